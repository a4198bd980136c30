//! The repository stands on its own: every relative link in README.md and the pages under docs/
//! resolves to a file or folder inside it, so a clone has no dead links. A link that begins with
//! `/` is read from the repository's root, as GitHub reads it.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit
        .parent()
        .expect("testkit sits in the workspace")
        .to_owned()
}

/// The targets of the Markdown links and images in `text`: what stands between `](` and `)`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(')')?;
            Some(rest[..end].split_whitespace().next().unwrap_or(""))
        })
        .collect()
}

fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    for entry in fs::read_dir(root.join("docs")).expect("docs/ exists") {
        let path = entry.expect("a readable entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    pages
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let root = root().canonicalize().unwrap();
    let mut checked = 0;
    let mut dead = Vec::new();
    for page in pages(&root) {
        let text = fs::read_to_string(&page).unwrap();
        for target in link_targets(&text) {
            let external = ["http://", "https://", "mailto:", "#"];
            if target.is_empty() || external.iter().any(|scheme| target.starts_with(scheme)) {
                continue;
            }
            let path = target.split('#').next().unwrap_or(target);
            let resolved = match path.strip_prefix('/') {
                Some(from_root) => root.join(from_root),
                None => page.parent().unwrap().join(path),
            };
            let inside = resolved
                .canonicalize()
                .is_ok_and(|found| found.starts_with(&root));
            if !inside {
                dead.push(format!("{}: {target}", page.display()));
            }
            checked += 1;
        }
    }
    assert!(
        dead.is_empty(),
        "links that do not resolve in a clone: {dead:#?}"
    );
    assert!(
        checked > 20,
        "only {checked} relative links found: is the parser right?"
    );
}

#[test]
fn link_targets_are_read_as_markdown_writes_them() {
    let text = "see [a](docs/a.md), ![b](b.svg \"title\") and [c](https://x.org/c) [d](#e)";
    assert_eq!(
        link_targets(text),
        ["docs/a.md", "b.svg", "https://x.org/c", "#e"]
    );
}
