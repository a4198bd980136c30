//! The crowd scenarios, `scale`, `fetch-scale` and `growth`: which servers they start (or find),
//! with which flags, and what they send; [`mod@crate::scale`] measures and reports each crowd.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail};
use probe::Target;

use crate::role::Role;
use crate::scale;
use crate::spawn::Servers;
use crate::{reachable, Cli};

/// sync-server with a handler thread for each of `requests`, and room under its
/// `--max-connections` (10,000 unless told) for them and the `/nosleep` sent meanwhile.
pub fn threaded_flags(requests: usize) -> Vec<String> {
    let mut flags = vec!["--threads".to_owned(), requests.to_string()];
    let room = requests + 100;
    if room > 10_000 {
        flags.extend(["--max-connections".to_owned(), room.to_string()]);
    }
    flags
}

/// The `scale` scenario: `requests` sleeps on `sync-server --threads N` (started now, or at
/// `--threaded`), async-server and sync-server.
pub fn measure_scale(
    cli: &Cli,
    servers: &Servers,
    targets: &BTreeMap<Role, Target>,
    requests: usize,
) -> anyhow::Result<scale::ScaleReport> {
    let flags = threaded_flags(requests);
    let threaded = if cli.spawn {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        servers.start("sync-server", &flags)?
    } else {
        cli.threaded_server.clone()
    };
    reachable(Role::SyncThreads, &threaded)?;
    let mut subjects = vec![scale::Subject {
        command: format!("sync-server {}", flags.join(" ")),
        target: &threaded,
        handler_threads: Some(requests),
        upstream_connections: None,
        requests,
    }];
    let others = [
        (Role::Async, None, requests),
        (
            Role::Sync,
            Some(1),
            requests.min(scale::ONE_THREAD_REQUESTS),
        ),
    ];
    let mut started = Vec::new();
    for (role, _, _) in others {
        if !targets.contains_key(&role) {
            let target = if cli.spawn {
                let flags = role.flags();
                let args: Vec<&str> = flags.iter().map(String::as_str).collect();
                servers.start(role.binary(), &args)?
            } else if role == Role::Async {
                cli.async_server.clone()
            } else {
                cli.sync_server.clone()
            };
            reachable(role, &target)?;
            started.push((role, target));
        }
    }
    let target_of = |role: Role| {
        let started = started.iter().find(|(which, _)| *which == role);
        targets
            .get(&role)
            .unwrap_or_else(|| &started.expect("started above").1)
    };
    for (role, handler_threads, requests) in others {
        subjects.push(scale::Subject {
            command: role.command(),
            target: target_of(role),
            handler_threads,
            upstream_connections: None,
            requests,
        });
    }
    let sleep = scale::SLEEP.mul_f64(cli.scale);
    println!(
        "scale: {requests} sleeps of {} s, one server after another",
        sleep.as_secs_f64()
    );
    let crowd = scale::Crowd {
        name: "scale",
        route: "/sleep",
        requests,
        sleep,
        upstream_port: None,
    };
    Ok(scale::run(&crowd, &subjects))
}

/// One step of `growth`: `requests` sleeps on a `sync-server --threads N` and an async-server,
/// both started for it (the threaded one's threads would weigh on the next steps otherwise:
/// it is stopped after).
pub fn measure_growth(
    cli: &Cli,
    servers: &Servers,
    requests: usize,
) -> anyhow::Result<scale::ScaleReport> {
    if !cli.spawn {
        bail!("growth starts its servers itself: pass --spawn");
    }
    let flags = threaded_flags(requests);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let threaded = servers.start("sync-server", &args)?;
    let tasks = servers.start("async-server", &[])?;
    let subjects = [
        scale::Subject {
            command: format!("sync-server {}", flags.join(" ")),
            target: &threaded,
            handler_threads: Some(requests),
            upstream_connections: None,
            requests,
        },
        scale::Subject {
            command: "async-server".to_owned(),
            target: &tasks,
            handler_threads: None,
            upstream_connections: None,
            requests,
        },
    ];
    let crowd = scale::Crowd {
        name: "growth",
        route: "/sleep",
        requests,
        sleep: scale::SLEEP.mul_f64(cli.scale),
        upstream_port: None,
    };
    let report = scale::run(&crowd, &subjects);
    servers.stop(&threaded);
    servers.stop(&tasks);
    Ok(report)
}

/// How many upstream connections the bounded half of `fetch-scale` has.
const FETCH_SCALE_CONNECTIONS: usize = 10;

/// The `fetch-scale` scenario: `requests` `/fetch` on `sync-server --threads N` and on
/// async-server, each with a connection to `upstream` per request, then with
/// [`FETCH_SCALE_CONNECTIONS`]. Needs `--spawn`: the servers are started for it.
pub fn measure_fetch_scale(
    cli: &Cli,
    servers: &Servers,
    upstream: &str,
    requests: usize,
) -> anyhow::Result<scale::ScaleReport> {
    let wait = scale::SLEEP.mul_f64(cli.scale) / 2;
    let upstream_port = Target::parse(upstream)
        .map_err(|error| anyhow!("--upstream {upstream}: {error}"))?
        .addr
        .port();
    let bounded = FETCH_SCALE_CONNECTIONS.min(requests);
    // The turns of the bounded half take ⌈N/C⌉ waits: each request may wait that long for one.
    let longest = wait * requests.div_ceil(bounded) as u32 + Duration::from_secs(30);
    let mut started = Vec::new();
    for connections in [requests, bounded] {
        let common = [
            "--upstream".to_owned(),
            upstream.to_owned(),
            "--upstream-connections".to_owned(),
            connections.to_string(),
            "--max-sleep".to_owned(),
            longest.as_secs().to_string(),
        ];
        let bound = (connections < requests).then_some(connections);
        for (binary, threads) in [("sync-server", Some(requests)), ("async-server", None)] {
            let mut flags = match threads {
                Some(threads) => threaded_flags(threads),
                None => vec!["--warn-blocked".to_owned(), "0".to_owned()],
            };
            flags.extend(common.iter().cloned());
            let args: Vec<&str> = flags.iter().map(String::as_str).collect();
            let target = servers.start(binary, &args)?;
            let command = format!("{binary} {}", flags.join(" ").replace(upstream, "U"));
            started.push((command, target, threads, bound));
        }
    }
    let subjects: Vec<scale::Subject> = started
        .iter()
        .map(|(command, target, threads, bound)| scale::Subject {
            command: command.clone(),
            target,
            handler_threads: *threads,
            upstream_connections: *bound,
            requests,
        })
        .collect();
    println!(
        "fetch-scale: {requests} /fetch of {} s upstream ({upstream}, U below), one server after \
         another",
        wait.as_secs_f64()
    );
    let crowd = scale::Crowd {
        name: "fetch-scale",
        route: "/fetch",
        requests,
        sleep: wait,
        upstream_port: Some(upstream_port),
    };
    Ok(scale::run(&crowd, &subjects))
}
