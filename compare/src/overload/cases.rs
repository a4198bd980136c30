//! The designs `overload` takes past their knee: each design of `load`, with and without what
//! sheds load, and what each does with a request it cannot serve in time.

use load::model::Patience;
use probe::seed::Stack;
use serde::Serialize;

use super::Settings;
use crate::traffic::{Design, Server, Workload};

/// A design run past its knee: a design of `load`, with or without what sheds load:
/// `--queue-deadline` on ours, `--limit-concurrency` on uvicorn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    pub design: Design,
    pub sheds: bool,
}

impl Case {
    pub const ALL: [Case; 7] = [
        Case::of(Design::OneThread, false),
        Case::of(Design::OneThread, true),
        Case::of(Design::FourThreads, false),
        Case::of(Design::FourThreads, true),
        Case::of(Design::OffloadPool, false),
        Case::of(Design::OffloadPool, true),
        Case::of(Design::EventLoop, false),
    ];

    /// The seed's, with `--seed`: `runserver --nothreading`, uvicorn, and uvicorn with
    /// `--limit-concurrency`.
    pub const SEED: [Case; 3] = [
        Case::of(Design::DjangoSync, false),
        Case::of(Design::DjangoAsync, false),
        Case::of(Design::DjangoAsync, true),
    ];

    pub(super) const fn of(design: Design, sheds: bool) -> Case {
        Case { design, sheds }
    }

    pub fn label(self) -> String {
        match (self.sheds, self.design.is_seed()) {
            (false, _) => self.design.label().to_owned(),
            (true, false) => format!("{}, with a deadline", self.design.label()),
            (true, true) => format!(
                "{}, --limit-concurrency {}",
                self.design.label(),
                probe::seed::LIMIT_CONCURRENCY
            ),
        }
    }

    /// Ours: the sync designs wait on a timer, the async ones on CPU (on the loop, or
    /// offloaded). The seed's wait on a timer, as in its experiment.
    pub fn workload(self) -> Workload {
        match self.design {
            Design::EventLoop | Design::OffloadPool => Workload::Cpu,
            _ => Workload::Timer,
        }
    }

    /// The station whose queue the server looks at as a request leaves it: sync-server's
    /// handler threads, async-server's blocking pool. An event loop's queue is the kernel's,
    /// and Django's servers look at none.
    fn watched(self) -> Option<usize> {
        match self.design {
            Design::OneThread | Design::FourThreads => Some(0),
            Design::OffloadPool => Some(1),
            _ => None,
        }
    }

    /// How its server is started.
    pub(super) fn server(self, settings: &Settings) -> Server {
        match (self.design.server(), self.sheds) {
            (Server::Ours(binary, mut flags), true) => {
                let ms = settings.deadline().as_millis().to_string();
                flags.extend(["--queue-deadline".to_owned(), ms]);
                Server::Ours(binary, flags)
            }
            (Server::Seed(Stack::Uvicorn), true) => Server::Seed(Stack::UvicornLimited),
            (server, _) => server,
        }
    }

    pub(super) fn patience(self, settings: &Settings) -> Patience {
        let ours = !self.design.is_seed();
        Patience {
            timeout: settings.client_timeout,
            retries: settings.retries,
            watched: self.watched(),
            deadline: (self.sheds && ours).then(|| settings.deadline()),
            skips_gone: self.watched().is_some(),
            admission: (self.sheds && !ours).then_some(probe::seed::LIMIT_CONCURRENCY),
        }
    }
}
