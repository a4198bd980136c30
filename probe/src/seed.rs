//! The seed's own Django stack (`bench/seed`), for the benchmark runner's `--seed` and
//! `compare --spawn --seed`: a virtual environment of its own under `target/`, from PyPI at the
//! versions `bench/seed/requirements.txt` pins, and the three ways the seed serves its views.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One of the servers the seed runs its views on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// `manage.py runserver --nothreading`: the sync views on one thread.
    Runserver,
    /// `manage.py runserver`: Django's default, a thread per request.
    ThreadedRunserver,
    /// `uvicorn --workers 1`: the async views on one event loop.
    Uvicorn,
    /// The same with `--limit-concurrency` [`LIMIT_CONCURRENCY`]: past that many connections or
    /// tasks at once, a request is answered `503` without its view.
    UvicornLimited,
}

/// `Stack::UvicornLimited`'s bound.
pub const LIMIT_CONCURRENCY: usize = 50;

impl Stack {
    /// The arguments to the environment's `python`, run in `bench/seed`, with `{port}` where the
    /// port goes. No autoreloader (the seed's default): it would be a second process watching
    /// files.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Stack::Runserver => &[
                "manage.py",
                "runserver",
                "--nothreading",
                "--noreload",
                "127.0.0.1:{port}",
            ],
            Stack::ThreadedRunserver => {
                &["manage.py", "runserver", "--noreload", "127.0.0.1:{port}"]
            }
            Stack::Uvicorn => &[
                "-m",
                "uvicorn",
                "seedsite.asgi:application",
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
            Stack::UvicornLimited => &[
                "-m",
                "uvicorn",
                "seedsite.asgi:application",
                "--workers",
                "1",
                "--limit-concurrency",
                "50",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
        }
    }

    /// How the seed's article names it.
    pub fn command(self) -> &'static str {
        match self {
            Stack::Runserver => "django runserver --nothreading",
            Stack::ThreadedRunserver => "django runserver",
            Stack::Uvicorn => "django uvicorn --workers 1",
            Stack::UvicornLimited => "django uvicorn --workers 1 --limit-concurrency 50",
        }
    }
}

/// The seed's Django project, in the repository at `root`.
pub fn project(root: &Path) -> PathBuf {
    root.join("bench/seed")
}

/// The environment's `python`, after making the environment under `root/target/seed-venv`
/// unless it is there and installing the pinned packages into it (quick once they are).
pub fn python(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/seed-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!(
            "creating {} (Django, uvicorn and psycopg from PyPI)",
            venv.display()
        );
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    let requirements = project(root).join("requirements.txt");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    Ok(python)
}

fn run(command: &mut Command) -> Result<(), String> {
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{command:?} failed ({status})")),
        Err(error) => Err(format!("cannot run {command:?}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limited_uvicorn_is_told_the_limit_the_model_is_told() {
        let args = Stack::UvicornLimited.args();
        let at = args
            .iter()
            .position(|a| *a == "--limit-concurrency")
            .unwrap();
        assert_eq!(args[at + 1], LIMIT_CONCURRENCY.to_string());
        assert!(Stack::UvicornLimited.command().ends_with(args[at + 1]));
    }
}
