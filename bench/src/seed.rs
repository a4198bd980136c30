//! The seed's own stack, for `--seed`: its four Django views (`bench/seed`), served as the seed
//! served them, by `runserver --nothreading` (sync views) and `uvicorn --workers 1` (async views).
//! Django and uvicorn go into a virtual environment of the runner's own, from PyPI, at the
//! versions `bench/seed/requirements.txt` pins.

use std::path::Path;
use std::process::Command;

use crate::launch::Launch;

/// Creates the virtual environment under `target/bench` unless it is there, and returns the
/// seed's servers: the sync one, Django's default (threaded) runserver, then the async one.
pub fn prepare(root: &Path) -> [Launch; 3] {
    let venv = root.join("target/bench/seed-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("bench/seed/requirements.txt");
    if !python.exists() {
        eprintln!("creating {} (Django and uvicorn from PyPI)", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements));
    let project = root.join("bench/seed");
    // No autoreloader (the seed's default): it would be a second process watching files.
    let runserver = Launch::told_port(
        "django-runserver",
        python.clone(),
        &[
            "manage.py",
            "runserver",
            "--nothreading",
            "--noreload",
            "127.0.0.1:{port}",
        ],
        &project,
    );
    // Django's default: a thread per request (the seed's closing remark).
    let threaded = Launch::told_port(
        "django-runserver-threaded",
        python.clone(),
        &["manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
        &project,
    );
    let uvicorn = Launch::told_port(
        "django-uvicorn",
        python,
        &[
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
        &project,
    );
    [runserver, threaded, uvicorn]
}

fn run(command: &mut Command) {
    let status = command.status();
    assert!(
        status.is_ok_and(|status| status.success()),
        "failed: {command:?}"
    );
}
