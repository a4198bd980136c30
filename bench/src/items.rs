//! Where a server's instructions per request go, item by item, beside the floor it is held
//! against: `cargo run --release -p bench -- --items`.
//!
//! Each server and its floor are built with line tables (`debug = "line-tables-only"`, the same
//! optimized code) and counted as [`crate::instructions`] counts them. callgrind's counts, read
//! back with `callgrind_annotate`, say which source file each instruction came from, inlined code
//! included. This workspace's code is an item per file (the log, the screening, the routes, the
//! server's glue); a dependency is an item per crate (hyper, http, tokio); the allocator and
//! libc's copies are items of their own; the standard library's code is counted with the crate
//! it was inlined into. The difference of the two runs over the difference in requests is each
//! item's cost per request.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context};

use crate::instructions::{counted, FEW, MANY};
use crate::launch::Launch;

/// Each server, and the floor it is held against item by item: the floor that keeps the same
/// timeouts, where there is one. async-server is also held against itself without its
/// blocked-loop report, so that what the report costs is read item by item.
pub const PAIRS: [(&str, &str); 3] = [
    ("async-server", "hello-hyper-guarded"),
    ("async-server", "async-server --warn-blocked 0"),
    ("sync-server", "hello-tiny-http"),
];

/// Instructions per request, by item.
pub type Items = BTreeMap<String, f64>;

/// Counts `launch` answering [`FEW`] and then [`MANY`] requests; returns its instructions per
/// request by item. `root` is the workspace's directory.
pub fn per_request(
    root: &Path,
    launch: &Launch,
    log: &Path,
    out_dir: &Path,
) -> anyhow::Result<Items> {
    let root = root.to_str().context("a workspace path that is UTF-8")?;
    let few = by_item(root, &counted(launch, log, out_dir, FEW)?)?;
    let many = by_item(root, &counted(launch, log, out_dir, MANY)?)?;
    let requests = (MANY - FEW) as f64;
    Ok(many
        .iter()
        .map(|(item, &count)| {
            let before = few.get(item).copied().unwrap_or_default();
            (item.clone(), (count as f64 - before as f64) / requests)
        })
        .collect())
}

/// The instructions of one callgrind output, by item.
fn by_item(root: &str, out: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=no", "--threshold=100", "--auto=no"])
        .arg(out)
        .output()
        .context("cannot run callgrind_annotate")?;
    ensure!(
        annotated.status.success(),
        "callgrind_annotate failed on {}",
        out.display()
    );
    let mut items = BTreeMap::new();
    for line in String::from_utf8_lossy(&annotated.stdout).lines() {
        if let Some((count, file, function)) = function_line(line) {
            *items.entry(item(root, file, function)).or_default() += count;
        }
    }
    ensure!(!items.is_empty(), "no functions in {}", out.display());
    Ok(items)
}

/// A line of `callgrind_annotate`'s function table:
/// `1,068,452 ( 2.18%)  shared/src/log.rs:shared::log::LogBuffer::push_head [/path/binary]`.
fn function_line(line: &str) -> Option<(u64, &str, &str)> {
    let (count, rest) = line.trim_start().split_once(' ')?;
    let count = count.replace(',', "").parse().ok()?;
    let (_percent, rest) = rest.trim_start().strip_prefix('(')?.split_once(')')?;
    let place = rest.trim();
    let place = place
        .rsplit_once(" [")
        .map_or(place, |(place, _object)| place);
    // A file name has no `:` here; a function's name may (`a::b`).
    let (file, function) = place.split_once(':')?;
    Some((count, file, function))
}

/// The item an instruction is counted in, from its source file and the function it ran in.
/// `root` is the workspace's directory.
fn item(root: &str, file: &str, function: &str) -> String {
    let allocator = ["jemalloc", "/malloc/"]
        .iter()
        .any(|name| file.contains(name));
    if allocator || function.starts_with("_rjem") || function.contains("malloc") {
        return "the allocator".to_owned();
    }
    if ["memcpy", "memmove", "memset"]
        .iter()
        .any(|copy| function.contains(copy))
    {
        return "libc: copying memory".to_owned();
    }
    if let Some((_, registry)) = file.split_once("/registry/src/") {
        // `index.crates.io-<hash>/hyper-1.12.0/src/...`: the crate, without its version.
        let package = registry.split('/').nth(1).unwrap_or(registry);
        let name = package.rsplit_once('-').map_or(package, |(name, _)| name);
        return name.replace('_', "-");
    }
    let ours = file
        .strip_prefix(root)
        .unwrap_or(file)
        .trim_start_matches('/');
    if Path::new(root).join(ours).is_file() {
        return ours.to_owned();
    }
    // The standard library's code (inlined or not), libc's, or code without line tables: the
    // function's owner.
    owner(root, function)
}

/// Who owns `function`: for this workspace's code, the file of its module (`shared/src/log.rs`
/// for `shared::log::LogBuffer::done`); for a dependency, its crate; for C, libc.
fn owner(root: &str, function: &str) -> String {
    let name = function.trim_start_matches('<');
    let mut path = name.split("::");
    let krate = path.next().unwrap_or_default();
    if krate.contains(' ') || !name.contains("::") {
        return "libc and the kernel's entry points".to_owned();
    }
    let package = krate.replace('_', "-");
    let src = Path::new(&package).join("src");
    if !Path::new(root).join(&src).is_dir() {
        return package;
    }
    let module = path.next().map(|module| src.join(format!("{module}.rs")));
    let candidates = module
        .into_iter()
        .chain([src.join("main.rs"), src.join("lib.rs")]);
    candidates
        .into_iter()
        .find(|file| Path::new(root).join(file).is_file())
        .map_or(package, |file| file.display().to_string())
}

/// A table of `server` against `floor`, item by item, largest difference first.
pub fn table(server: &str, ours: &Items, floor: &str, base: &Items) -> String {
    let mut rows: Vec<(&str, f64, f64)> = ours
        .keys()
        .chain(base.keys())
        .map(|item| {
            let get = |items: &Items| items.get(item).copied().unwrap_or_default();
            (item.as_str(), get(base), get(ours))
        })
        .collect();
    rows.sort_by(|a, b| (b.2 - b.1).total_cmp(&(a.2 - a.1)).then(a.0.cmp(b.0)));
    rows.dedup_by_key(|row| row.0);
    let mut text =
        format!("| item | {floor} | {server} | difference |\n| --- | --- | --- | --- |\n");
    let (mut small_base, mut small_ours) = (0.0, 0.0);
    for (item, base, ours) in &rows {
        if base.abs() < 20.0 && ours.abs() < 20.0 {
            small_base += base;
            small_ours += ours;
            continue;
        }
        text += &format!("| {item} | {base:.0} | {ours:.0} | {:+.0} |\n", ours - base);
    }
    text += &format!(
        "| everything under 20 | {small_base:.0} | {small_ours:.0} | {:+.0} |\n",
        small_ours - small_base
    );
    let total = |items: &Items| items.values().sum::<f64>();
    text += &format!(
        "| **all** | {:.0} | {:.0} | {:+.0} |\n",
        total(base),
        total(ours),
        total(ours) - total(base)
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_line_gives_its_count_file_and_function() {
        let line = " 1,068,452 ( 2.18%)  shared/src/log.rs:shared::log::LogBuffer::push_head \
                    [/tmp/x/async-server]";
        assert_eq!(
            function_line(line),
            Some((
                1_068_452,
                "shared/src/log.rs",
                "shared::log::LogBuffer::push_head"
            ))
        );
        assert_eq!(function_line("Ir  file:function"), None);
        assert_eq!(function_line("--------"), None);
    }

    #[test]
    fn items_are_our_files_their_crates_and_the_allocator() {
        let root = env!("CARGO_MANIFEST_DIR").strip_suffix("/bench").unwrap();
        let done = "shared::log::LogBuffer::done";
        let log = format!("{root}/shared/src/log.rs");
        assert_eq!(item(root, "shared/src/log.rs", done), "shared/src/log.rs");
        assert_eq!(item(root, &log, done), "shared/src/log.rs");
        let core = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ptr/mod.rs";
        // The standard library's code counts with the module it was inlined into.
        assert_eq!(item(root, core, done), "shared/src/log.rs");
        let closure = "async_server::handle::{{closure}}";
        assert_eq!(item(root, core, closure), "async-server/src/main.rs");
        let hyper = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-util-0.1.21/\
                     src/rt/tokio.rs";
        let encode =
            "<hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::encode";
        assert_eq!(item(root, hyper, encode), "hyper-util");
        assert_eq!(item(root, core, encode), "hyper");
        assert_eq!(item(root, "???", "tokio_io_timeout::x"), "tokio-io-timeout");
        assert_eq!(
            item(root, "./malloc/./malloc/malloc.c", "_int_free"),
            "the allocator"
        );
        assert_eq!(item(root, "???", "_rjem_sdallocx"), "the allocator");
        let memcpy = "__memcpy_avx_unaligned_erms";
        assert_eq!(item(root, "./string/x.S", memcpy), "libc: copying memory");
        assert_eq!(
            item(
                root,
                "./nptl/cancellation.c",
                "__pthread_enable_asynccancel"
            ),
            "libc and the kernel's entry points"
        );
    }
}
