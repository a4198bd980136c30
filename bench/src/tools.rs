//! What the runner needs before it measures: a release build of everything, and the load
//! generators and counters (wrk, valgrind, h2load) from Debian's packages; and `--items`.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context};

use crate::launch::Launch;
use crate::{instructions, items};

/// Builds the servers and the floors (not this runner, which is running).
/// Builds the servers and the floors in release mode; with `line_tables`, into that target
/// directory with line tables, for a profile to name source files (the code is the same).
pub(crate) fn build(root: &Path, line_tables: Option<&Path>) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for targets in [
        &["-p", "sync-server", "-p", "async-server", "-p", "load"][..],
        &[
            "-p",
            "bench",
            "--bin",
            "hello-hyper",
            "--bin",
            "hello-hyper-guarded",
            "--bin",
            "hello-tiny-http",
            "--bin",
            "hello-tiny-http-response",
            "--bin",
            "hello-hyper-postgres",
            "--bin",
            "hello-tiny-http-postgres",
        ],
    ] {
        let mut command = Command::new(&cargo);
        command.current_dir(root).args(["build", "--release"]);
        if let Some(dir) = line_tables {
            command
                .env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only")
                .arg("--target-dir")
                .arg(dir);
        }
        let status = command.args(targets).status().context("cannot run cargo")?;
        ensure!(status.success(), "the release build failed");
    }
    if line_tables.is_none() {
        // async-server on the C library's allocator, for one row beside it: a build of its own,
        // copied beside the others under a name of its own.
        let dir = root.join("target/system-allocator");
        let status = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release", "-p", "async-server"])
            .args(["--features", "system-allocator", "--target-dir"])
            .arg(&dir)
            .status()
            .context("cannot run cargo")?;
        ensure!(status.success(), "the system-allocator build failed");
        let built = dir.join("release/async-server");
        let named = root
            .join("target/release")
            .join(crate::throughput::SYSTEM_ALLOCATOR);
        std::fs::copy(&built, &named)
            .with_context(|| format!("cannot copy {} to {}", built.display(), named.display()))?;
    }
    Ok(())
}

/// `--items`: each server against its floor, item by item, printed and written to
/// docs/instructions.md.
pub(crate) fn item_by_item(root: &Path) -> anyhow::Result<()> {
    let profiled = root.join("target/profiled");
    build(root, Some(&profiled))?;
    for (program, package) in [("valgrind", "valgrind"), ("h2load", "nghttp2-client")] {
        ensure_tool(program, package)?;
    }
    let bin = profiled.join("release");
    let logs = root.join("target/bench");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut text = String::from(
        "# Where the instructions of a request go

Written by `cargo run --release -p bench -- \
         --items`: each server beside the floor it is held against, and async-server beside \
         itself without its blocked-loop report, its instructions per `/nosleep` counted as the \
         benchmark runner counts them, by item.
",
    );
    // Each program counted once, though it may stand in more than one pair.
    let mut counts = std::collections::BTreeMap::new();
    for (server, floor) in items::PAIRS {
        for name in [server, floor] {
            if !counts.contains_key(name) {
                let log = logs.join(format!("{}.items.log", name.replace(' ', "_")));
                let launch = Launch::ours(&bin, name);
                counts.insert(name, items::per_request(root, &launch, &log, &logs)?);
            }
        }
        let table = items::table(server, &counts[server], floor, &counts[floor]);
        println!("{table}");
        text += &format!(
            "
## {server} against {floor}

{table}"
        );
    }
    text += &format!(
        "
Method: {}. Built with line tables (the same optimized code), so that callgrind \
         names the source file of every instruction, inlined or not. Items: a file of this \
         workspace; a crate this workspace uses; the allocator; libc's copying of memory. The \
         standard library's code counts with the crate whose function it ran in.\n\nMachine: \
         {}.\n",
        instructions::METHOD,
        probe::process::machine(std::thread::available_parallelism().map_or(1, usize::from))
    );
    let path = root.join("docs/instructions.md");
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Installs `program` from Debian's `package` unless it runs already.
pub(crate) fn ensure_tool(program: &str, package: &str) -> anyhow::Result<()> {
    if Command::new(program).arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("installing {program} (Debian package {package})");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut apt = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    let status = apt
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    ensure!(
        status.is_ok_and(|s| s.success()),
        "cannot install {package}"
    );
    Ok(())
}
