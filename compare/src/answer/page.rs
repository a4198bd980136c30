//! The answer page itself: each cell from what the run measured, the table, and the advice
//! composed from the same figures.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use crate::report::{Report, ScenarioReport, ServerReport};
use crate::role::Role;
use crate::scenario::{seconds_text, COMPUTE};
use crate::verdict::seconds;

use super::rows::{Row, CALLS, CROWD, DESIGNS};

/// One cell: what the design did with the row, what it held for it, and whether it was
/// predicted.
pub fn cell(server: &ServerReport) -> String {
    let mut text = String::new();
    let quick = quick_latency(server);
    text += if server.blocked {
        "blocked"
    } else {
        "not blocked"
    };
    if let Some(quick) = quick {
        let _ = write!(text, "; /nosleep {}", seconds(quick));
    }
    if server.predicted_wall_s.is_some() {
        // Rounds: how many of one request's waits the whole took.
        let each = server.requests.iter().map(|r| r.work_s).fold(0.0, f64::max);
        let rounds = (server.wall_s / each.max(f64::EPSILON)).round();
        let _ = write!(
            text,
            "; all in {} ({rounds} round{})",
            seconds(Duration::from_secs_f64(server.wall_s)),
            if rounds == 1.0 { "" } else { "s" }
        );
    }
    text += &held(server);
    if server.as_predicted {
        text += " ✓";
    } else {
        let expected = if server.predicted_blocked {
            "blocked"
        } else {
            "not blocked"
        };
        let _ = write!(text, " ✗ (predicted {expected}");
        if let Some(wall) = server.predicted_wall_s {
            let _ = write!(text, ", {}", seconds(Duration::from_secs_f64(wall)));
        }
        text += ")";
    }
    text
}

/// What the design held for the row: its OS threads before and at the peak, what its memory
/// grew by (per waiting request, where several waited), and its database connections; from the
/// answers' thread ids where compare did not start the server.
fn held(server: &ServerReport) -> String {
    let Some(held) = &server.held else {
        let threads = threads(server);
        return format!("; {threads} thread{}", if threads == 1 { "" } else { "s" });
    };
    let waiting = server.requests.iter().filter(|r| r.work_s > 0.0).count();
    let grown = held.rss_kib.peak.saturating_sub(held.rss_kib.before) as f64;
    let mut text = format!(
        "; {} → {} OS threads; RSS +{grown:.0} KiB",
        held.threads.before, held.threads.peak
    );
    if waiting > 1 {
        let _ = write!(
            text,
            " ({:.0} KiB per waiting request)",
            grown / waiting as f64
        );
    }
    let connections = held.database_connections.peak;
    if connections > 0 {
        let _ = write!(
            text,
            "; {connections} database connection{}",
            if connections == 1 { "" } else { "s" }
        );
    }
    text
}

/// The latency of the row's `/nosleep`, if it had one.
pub fn quick_latency(server: &ServerReport) -> Option<Duration> {
    let quick = server.requests.iter().find(|r| r.path == "/nosleep")?;
    quick.latency_s.map(Duration::from_secs_f64)
}

/// The threads that ran the row's handlers and offloaded work, as the answers named them.
fn threads(server: &ServerReport) -> usize {
    let ids: BTreeSet<u64> = server
        .requests
        .iter()
        .flat_map(|r| r.tid.into_iter().chain(r.work_tid))
        .collect();
    ids.len()
}

/// The page: the table, the advice composed from it, and how it was measured.
/// `picture` is the timeline's file name, beside the page.
/// `seed_versions`: the packages the seed's environment pins (`Django==5.2.19`, ...).
pub fn page(
    report: &Report,
    scale: f64,
    (command, machine): (&str, &str),
    picture: &str,
    seed_versions: &[String],
) -> String {
    let rows: Vec<(Row, &ScenarioReport)> = report
        .scenarios
        .iter()
        .filter_map(|scenario| Some((Row::of(&scenario.name)?, scenario)))
        .collect();
    let mut page = String::from("# The answer: every kind of wait against every design\n\n");
    page += "What async buys a server on one thread, and what it does not, measured in one run. \
             Each row is a kind of wait a view has; each column a design people choose between. \
             While the view waits, a quick `/nosleep` is asked: a design is *blocked* when that \
             (or the view itself) waited behind something else. ✓: as predicted before the run; \
             ✗: not, with the prediction. Where the row times all its requests, the cell gives \
             the whole and its rounds (the whole over one request's wait). The last three columns are the seed's own Django \
             project on the servers it names, doing the same (`compare --seed`). Each cell also \
             says what the design held meanwhile, read from /proc every 20 ms: its OS threads \
             before the row and at its peak (every thread of the process, the library's and \
             the server's helpers beside the handler threads included), what its resident memory grew by (per waiting \
             request where several waited; with one, the first use of a route weighs in), and \
             its connections to the database.\n\n";
    page += "| the view waits on |";
    for (_, design) in DESIGNS {
        let _ = write!(page, " {} |", design.label());
    }
    page += "\n| --- |";
    page += &" --- |".repeat(DESIGNS.len());
    page += "\n";
    let seeded = rows
        .iter()
        .flat_map(|(_, row)| &row.servers)
        .any(|server| Role::from_name(server.server).is_some_and(|r| r.seed_stack().is_some()));
    for (kind, row) in &rows {
        let _ = write!(page, "| {} |", kind.question());
        for (role, _) in DESIGNS {
            let server = row.servers.iter().find(|s| s.server == role.name());
            let text = server.map_or_else(|| kind.not_run(role, seeded).to_owned(), cell);
            let _ = write!(page, " {text} |");
        }
        page += "\n";
    }
    let roles: Vec<Role> = DESIGNS.iter().map(|(role, _)| *role).collect();
    for row in super::traffic_rows::rows(report, &roles) {
        let _ = write!(page, "| {} |", row.question);
        for cell in row.cells {
            let _ = write!(page, " {cell} |");
        }
        page += "\n";
    }
    let _ = write!(
        page,
        "\n![Each row's requests on each design, on one time axis per row: red is waiting behind \
         others, blue the request's own wait]({picture})\n"
    );
    page += "\n## What to choose, from these figures\n\n";
    // A lesson shared by several rows is said under the first of them only.
    let mut said: Vec<(&str, &str)> = Vec::new();
    for (kind, row) in &rows {
        let meaning = kind.lesson();
        let (measured, agreed) = advice(*kind, row);
        let first = said.iter().find(|(lesson, _)| *lesson == meaning);
        let lesson = match (first, agreed) {
            (Some((_, under)), true) => format!("The same lesson as {under}'s."),
            (_, true) => meaning.to_owned(),
            (_, false) => format!(
                "This run disagreed with a prediction (✗ above): read those cells before the \
                 general rule, which is: {meaning}"
            ),
        };
        if first.is_none() {
            said.push((meaning, kind.question()));
        }
        let _ = writeln!(
            page,
            "- **{}.** {measured} {lesson}",
            capitalised(kind.question())
        );
    }
    for (measured, lesson) in super::traffic_rows::advice(report) {
        let _ = writeln!(page, "- **Traffic.** {measured} {lesson}");
    }
    let _ = write!(
        page,
        "\n## How it was measured\n\n`{command}`, at `--scale {scale}` (each wait {}), on {machine}. \
         {}\n\nThe rows, as sent:\n\n",
        seconds_text(COMPUTE.mul_f64(scale)),
        crate::report::METHOD
    );
    for (kind, row) in &rows {
        let _ = writeln!(page, "- {}: {}.", kind.question(), row.description);
    }
    if seeded {
        let _ = write!(
            page,
            "\nThe Django columns run the seed's project, `bench/seed` (its views, and a \
             `/query`, `/fetch`, `/compute` and `/block` of the same kind), with {}, from PyPI \
             into a virtual environment of compare's own; its database connections persist \
             (`CONN_MAX_AGE` 600).\n",
            seed_versions.join(", ")
        );
    } else {
        page += "\nThe Django columns need `--seed`, which runs the seed's own project beside \
                 ours.\n";
    }
    page
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A sentence or two for one row, from its figures: who was blocked, and by how much; and
/// whether the run agreed with the predictions.
fn advice(kind: Row, row: &ScenarioReport) -> (String, bool) {
    let by_role = |role: Role| row.servers.iter().find(|s| s.server == role.name());
    let quick = |role: Role| {
        by_role(role)
            .and_then(quick_latency)
            .map_or_else(|| "—".to_owned(), seconds)
    };
    let wall = |role: Role| {
        by_role(role).map_or_else(
            || "—".to_owned(),
            |s| seconds(Duration::from_secs_f64(s.wall_s)),
        )
    };
    let agreed = row.servers.iter().all(|server| server.as_predicted);
    let measured = match kind {
        Row::Pool => format!(
            "{CROWD} waits took {} on one thread, {} on four, {} on the event loop and {} on a \
             pool of two.",
            wall(Role::Sync),
            wall(Role::SyncThreads),
            wall(Role::Async),
            wall(Role::AsyncPool)
        ),
        Row::Services => format!(
            "{CALLS} calls took {} one after another on one thread, {} on a thread each and {} \
             awaited together on the event loop; /nosleep waited {}, {} and {}.",
            wall(Role::Sync),
            wall(Role::SyncThreads),
            wall(Role::Async),
            quick(Role::Sync),
            quick(Role::SyncThreads),
            quick(Role::Async)
        ),
        Row::Mistake => format!(
            "/nosleep waited {} behind the blocking call on the event loop, and {} when the same \
             call ran on the pool.",
            quick(Role::Async),
            quick(Role::AsyncPool)
        ),
        _ => format!(
            "/nosleep waited {} on one thread, {} on four, {} on the event loop{}.",
            quick(Role::Sync),
            quick(Role::SyncThreads),
            quick(Role::Async),
            by_role(Role::AsyncPool)
                .map(|_| format!(" and {} with the pool", quick(Role::AsyncPool)))
                .unwrap_or_default()
        ),
    };
    // The seed's stack, where it ran: the same figure on each of its servers that had the row.
    let django = [
        (Role::DjangoSync, "on runserver --nothreading"),
        (Role::DjangoThreads, "threaded"),
        (Role::DjangoAsync, "on uvicorn"),
    ];
    let figure = |role| match kind {
        Row::Pool | Row::Services => wall(role),
        _ => quick(role),
    };
    let said: Vec<String> = django
        .iter()
        .filter(|(role, _)| by_role(*role).is_some())
        .map(|(role, on)| format!("{} {on}", figure(*role)))
        .collect();
    let measured = match said.as_slice() {
        [] => measured,
        [.., last] => {
            let what = match kind {
                Row::Pool => "they took",
                Row::Services => "the calls took",
                _ => "/nosleep waited",
            };
            let rest = &said[..said.len() - 1];
            let list = if rest.is_empty() {
                last.clone()
            } else {
                format!("{} and {last}", rest.join(", "))
            };
            format!("{measured} On Django {what} {list}.")
        }
    };
    (measured, agreed)
}
