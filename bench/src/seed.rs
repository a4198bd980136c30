//! The seed's own stack, for `--seed`: its Django views (`bench/seed`), served as the seed
//! served them, by `runserver --nothreading` (sync views) and `uvicorn --workers 1` (async
//! views), and by Django's default threaded `runserver`; the environment is `probe::seed`'s.

use std::path::Path;

use probe::seed::{self, Stack};

use crate::launch::Launch;

/// Makes the virtual environment unless it is there, and returns the seed's servers: the sync
/// one, Django's default (threaded) runserver, then the async one.
pub fn prepare(root: &Path) -> [Launch; 3] {
    let python = seed::python(root).unwrap_or_else(|error| panic!("{error}"));
    let project = seed::project(root);
    let launch =
        |name, stack: Stack| Launch::told_port(name, python.clone(), stack.args(), &project);
    [
        launch("django-runserver", Stack::Runserver),
        launch("django-runserver-threaded", Stack::ThreadedRunserver),
        launch("django-uvicorn", Stack::Uvicorn),
    ]
}
