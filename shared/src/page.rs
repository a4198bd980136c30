//! The index page (`GET /`): says which server this is, and runs the seed's experiment from the
//! browser, against this server or against both at once.
//!
//! One self-contained HTML file, no external assets. Every request it sends has a unique query
//! string (and every answer says `Cache-Control: no-store`): a browser lets only one request for
//! the same URL through its cache at a time, which would make even the async server look
//! blocked.

use crate::{Backends, Identity, ServerKind};

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{SERVER}}: what does async buy a server on one thread?</title>
<style>
  body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 56rem; color: #222; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  code { font-size: .95em; }
  .ids { color: #555; margin: 0 0 1rem; }
  form { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: 1rem 0; }
  input { font: inherit; padding: .2rem .4rem; }
  input[type=number] { width: 5rem; }
  input[type=url] { width: 16rem; max-width: 100%; }
  button { font: inherit; padding: .35rem .9rem; cursor: pointer; }
  section { margin: 1rem 0 1.5rem; }
  h2 { font-size: 1.05rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
  .row { display: flex; align-items: center; gap: .5rem; margin: .25rem 0; }
  .label { flex: 0 0 8.5rem; font-family: ui-monospace, monospace; font-size: .85rem; overflow-wrap: anywhere; }
  .track { position: relative; flex: 1; height: 1.1rem; background: #f1f1f1; min-width: 6rem; }
  .bar { position: absolute; top: 0; bottom: 0; background: #3d6fc4; min-width: 2px; }
  .bar.waiting { background: repeating-linear-gradient(45deg, #bbb 0 6px, #ddd 6px 12px); }
  .bar.late { background: #e0605e; }
  .note { flex: 0 0 11rem; font-size: .85rem; color: #444; }
  .verdict { font-weight: 600; }
  .verdict[data-blocked=true] { color: #c0392b; }
  .verdict[data-blocked=false] { color: #2c6e2f; }
  @media (max-width: 36rem) { .row { flex-wrap: wrap; } .label, .note { flex-basis: 100%; } }
</style>
</head>
<body>
<h1><code>{{SERVER}}</code></h1>
<p class="ids">{{KIND}}. This page was served by PID <code id="pid">{{PID}}</code>, TID <code id="tid">{{TID}}</code>.</p>
<p>Routes: {{ROUTES}}</p>
<p>The seed's experiment: <code>/sleep</code> at 0 s, <code>/nosleep</code> 0.4 of the sleep later (2 s of 5).
On a blocking server the <code>/nosleep</code> waits for the sleep to end; on an async one it does not.
The other experiments put another route in the sleep's place: {{EXPERIMENTS}}</p>
<p id="answer">The answer on one page, every kind of wait against every design in one table from one run: <code>docs/answer.md</code> in the project (<code>target/release/compare --spawn --seed answer</code> writes it).</p>
<form onsubmit="return false">
  <label>experiment <select id="experiment">{{OPTIONS}}</select></label>
  <label>seconds <input id="duration" type="number" min="0.1" max="60" step="0.1" value="5"></label>
  <button id="run" type="button">Run on this server</button>
  <label>other server <input id="other" type="url" value="{{OTHER}}"></label>
  <button id="run-both" type="button">Run on both at once</button>
</form>
<section id="here"></section>
<section id="there"></section>
<script>
"use strict";
const SERVER = "{{SERVER}}";

function fmt(ms) {
  return ms < 1000 ? ms.toFixed(1) + " ms" : (ms / 1000).toFixed(2) + " s";
}

function unique(path) {
  const tag = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  return path + (path.includes("?") ? "&" : "?") + "_=" + tag;
}

function row(lane, label) {
  const row = document.createElement("div");
  row.className = "row";
  row.innerHTML = '<span class="label"></span><span class="track"><span class="bar waiting"></span></span><span class="note">sent</span>';
  row.querySelector(".label").textContent = label;
  lane.appendChild(row);
  return row;
}

function place(row, from, to, span, late) {
  const bar = row.querySelector(".bar");
  bar.style.left = (100 * from / span) + "%";
  bar.style.width = (100 * Math.max(to - from, 0) / span) + "%";
  bar.className = "bar" + (to === null ? " waiting" : late ? " late" : "");
}

// Sends `path` to `base` at `at` ms after `start`, drawing it as it goes; resolves to what it measured.
async function probe(base, path, at, work, start, lane, span) {
  await new Promise(done => setTimeout(done, at));
  const line = row(lane, path);
  const sent = performance.now() - start;
  const tick = setInterval(() => place(line, sent, performance.now() - start, span, false), 50);
  try {
    const answer = await fetch(base + unique(path), { cache: "no-store" });
    await answer.text();
    const answered = performance.now() - start;
    const latency = answered - sent;
    clearInterval(tick);
    place(line, sent, answered, span, latency - work > threshold(work));
    const tid = answer.headers.get("X-Tid");
    line.querySelector(".note").textContent = fmt(latency) + " · " + answer.status + " · TID " + tid;
    return { path, sent, latency, work, status: answer.status, tid, fetchMs: answer.headers.get("X-Fetch-Ms") };
  } catch (error) {
    clearInterval(tick);
    line.querySelector(".note").textContent = "no answer";
    return { path, sent, latency: null, work, error: String(error) };
  }
}

function threshold(sleep) {
  return Math.max(sleep / 10, 20);
}

// Runs the chosen experiment against `base`, drawn into `lane`; shows the verdict in `verdictId`.
async function experiment(base, title, lane, verdictId) {
  const sleep = Math.min(Math.max(Number(document.getElementById("duration").value) || 5, 0.1), 60);
  const route = document.getElementById("experiment").value;
  const work = sleep * 1000, span = work * 1.25, start = performance.now();
  lane.innerHTML = "";
  const heading = document.createElement("h2");
  heading.textContent = title;
  lane.appendChild(heading);
  const requests = [
    probe(base, route + (route.includes("?") ? "&" : "?") + "seconds=" + sleep, 0, work, start, lane, span),
    probe(base, "/nosleep", work * 0.4, 0, start, lane, span),
  ];
  const verdict = document.createElement("p");
  verdict.id = verdictId;
  verdict.className = "verdict";
  verdict.textContent = "running…";
  lane.appendChild(verdict);
  const [sleeping, quick] = await Promise.all(requests);
  lane.appendChild(verdict); // below the rows
  if (quick.latency === null || sleeping.latency === null) {
    verdict.dataset.answered = "false";
    verdict.textContent = "no answer from " + base + ": " + (quick.error || sleeping.error);
    return;
  }
  if (sleeping.status === 404) {
    verdict.dataset.answered = "false";
    verdict.textContent = "this server has no " + route + " (404): a blocking server has no event loop to block";
    return;
  }
  const blocked = quick.latency > threshold(work);
  verdict.dataset.blocked = String(blocked);
  verdict.textContent = (blocked
    ? "blocked: /nosleep waited " + fmt(quick.latency) + " behind " + route
    : "not blocked: /nosleep answered in " + fmt(quick.latency) + (sleeping.tid === quick.tid ? ", on the same thread (TID " + quick.tid + ")" : ""))
    + (sleeping.fetchMs ? "; the calls took " + sleeping.fetchMs + " ms together" : "");
}

const here = location.origin;
document.getElementById("run").onclick = () => {
  document.getElementById("there").innerHTML = "";
  experiment(here, SERVER + " (this server)", document.getElementById("here"), "verdict");
};
document.getElementById("run-both").onclick = () => {
  const other = document.getElementById("other").value.replace(/\/+$/, "");
  experiment(here, SERVER + " (this server)", document.getElementById("here"), "verdict");
  experiment(other, other, document.getElementById("there"), "verdict-other");
};
</script>
</body>
</html>
"##;

/// The index page of a server of `kind` with `backends`, served by `who`.
pub fn index(kind: ServerKind, backends: Backends, who: Identity) -> String {
    let (server, description, other) = match kind {
        ServerKind::Sync => (
            "sync-server",
            "Blocking, one handler thread: Django's runserver --nothreading",
            "http://127.0.0.1:8001",
        ),
        ServerKind::Async => (
            "async-server",
            "Async, one thread: hyper on a tokio current_thread runtime, like uvicorn --workers 1",
            "http://127.0.0.1:8000",
        ),
    };
    let (routes, mut experiments) = match kind {
        ServerKind::Sync => (ROUTES, EXPERIMENTS[..2].to_vec()),
        ServerKind::Async => (ASYNC_ROUTES, EXPERIMENTS.to_vec()),
    };
    let mut routes = routes.to_owned();
    if backends.database {
        experiments.insert(2, QUERY);
        routes += r#", <a href="/query?seconds=1">/query?seconds=1</a>"#;
    }
    if backends.upstream {
        let at = experiments.len().min(3);
        experiments.splice(at..at, FETCH);
        routes += r#", <a href="/fetch?seconds=1">/fetch?seconds=1</a>, <a href="/fetch?seconds=1&amp;count=3">/fetch?seconds=1&amp;count=3</a>"#;
    }
    let options: String = experiments
        .iter()
        .map(|(route, label, _)| format!(r#"<option value="{route}">{label}</option>"#))
        .collect();
    let explained: Vec<String> = experiments[1..]
        .iter()
        .map(|(route, _, what)| format!("<code>{route}</code> {what}"))
        .collect();
    TEMPLATE
        .replace("{{SERVER}}", server)
        .replace("{{KIND}}", description)
        .replace("{{PID}}", &who.pid.to_string())
        .replace("{{TID}}", &who.tid.to_string())
        .replace("{{OTHER}}", other)
        .replace("{{ROUTES}}", &routes)
        .replace("{{OPTIONS}}", &options)
        .replace("{{EXPERIMENTS}}", &(explained.join("; ") + "."))
}

/// The experiments a page offers, as (route, label, what it shows): the seed's first, then
/// those with another route in the sleep's place. A sync server has the first two.
const EXPERIMENTS: [(&str, &str, &str); 4] = [
    ("/sleep", "seed: /sleep, then /nosleep", "sleeps"),
    (
        "/compute",
        "compute: /compute, then /nosleep",
        "computes for that much CPU time, which holds its thread on any server",
    ),
    (
        "/block",
        "block: /block, then /nosleep",
        "sleeps blocking the runtime thread: the mistake",
    ),
    (
        "/offload",
        "offload: /offload, then /nosleep",
        "sleeps on the blocking pool, awaited: the fix",
    ),
];

/// The experiment a server with a database offers besides.
const QUERY: (&str, &str, &str) = (
    "/query",
    "query: /query, then /nosleep",
    "waits that long in the database (SELECT pg_sleep), for a blocking client or an awaited one",
);

/// The experiments a server with an upstream offers besides: one call, and three at once.
const FETCH: [(&str, &str, &str); 2] = [
    (
        "/fetch",
        "fetch: /fetch, then /nosleep",
        "waits that long for another service (the upstream's /sleep)",
    ),
    (
        "/fetch?count=3",
        "calls: /fetch of 3 calls, then /nosleep",
        "calls the upstream three times: one after another on a sync server's thread, all at once \
         on an event loop",
    ),
];

const ROUTES: &str = r#"<a href="/sleep?seconds=1">/sleep?seconds=1</a>, <a href="/sleep">/sleep</a>, <a href="/nosleep">/nosleep</a>, <a href="/compute?seconds=1">/compute?seconds=1</a>"#;
const ASYNC_ROUTES: &str = r#"<a href="/sleep?seconds=1">/sleep?seconds=1</a>, <a href="/sleep">/sleep</a>, <a href="/nosleep">/nosleep</a>, <a href="/compute?seconds=1">/compute?seconds=1</a>, <a href="/block?seconds=1">/block?seconds=1</a>, <a href="/offload?seconds=1">/offload?seconds=1</a>, <a href="/offload?seconds=1&amp;work=compute">/offload?seconds=1&amp;work=compute</a>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_server_and_fills_every_slot() {
        let me = Identity { pid: 41, tid: 43 };
        let none = Backends::default();
        let sync = index(ServerKind::Sync, none, me);
        assert!(sync.contains("<code>sync-server</code>"));
        assert!(
            sync.contains(r#"<code id="pid">41</code>"#)
                && sync.contains(r#"<code id="tid">43</code>"#)
        );
        assert!(
            sync.contains(r#"value="http://127.0.0.1:8001""#),
            "the other server by default"
        );
        assert!(!sync.contains("/block"), "a sync server has no /block");
        assert!(sync.contains(r#"<option value="/compute">"#));
        let page = index(ServerKind::Async, none, me);
        assert!(!page.contains("/query"), "no database, no query");
        let with = Backends {
            database: true,
            upstream: false,
        };
        for kind in [ServerKind::Sync, ServerKind::Async] {
            let offered = index(kind, with, me);
            assert!(offered.contains(r#"<option value="/query">"#), "{kind:?}");
            assert!(offered.contains(r#"href="/query?seconds=1""#), "{kind:?}");
            assert!(!offered.contains("/fetch"), "no upstream, no fetch");
            let upstream = Backends {
                upstream: true,
                ..Backends::default()
            };
            let offered = index(kind, upstream, me);
            for option in ["/fetch", "/fetch?count=3"] {
                let option = format!(r#"<option value="{option}">"#);
                assert!(offered.contains(&option), "{kind:?}: {option}");
            }
            assert!(
                !offered.contains("/query"),
                "{kind:?}: no database, no query"
            );
        }
        assert!(
            page.contains("<code>async-server</code>")
                && page.contains(r#"href="/offload?seconds=1""#)
        );
        assert!(page.contains(r#"value="http://127.0.0.1:8000""#));
        for route in ["/compute", "/block", "/offload"] {
            assert!(
                page.contains(&format!(r#"<option value="{route}">"#)),
                "{route}"
            );
        }
        for page in [sync, page] {
            assert!(!page.contains("{{"), "an unfilled slot");
            for id in [
                r#"id="run""#,
                r#"id="run-both""#,
                r#"id="duration""#,
                r#"id="other""#,
                r#"id="experiment""#,
                r#"<option value="/sleep">"#,
                "docs/answer.md",
            ] {
                assert!(page.contains(id), "{id}");
            }
            assert!(
                !page.contains("src=\"http") && !page.contains("href=\"http"),
                "no external assets"
            );
            assert!(
                page.contains(r#"<link rel="icon" href="data:,">"#),
                "no favicon request"
            );
        }
    }
}
