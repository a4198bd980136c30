//! What each design does with a quick request that comes in while another waits, and why:
//! written once here, for the experiments that ask it of one design or two and for the answer
//! page, which asks it of all of them.

use crate::scenario::Prediction;
use crate::traffic::Design;

/// What the other request waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    Timer,
    Cpu,
    Database,
    Service,
    /// A blocking sleep in async code (`/block`), or the same sleep offloaded (`/offload`).
    Block,
}

/// Whether `design` keeps a quick request waiting behind one that waits on `wait`, and why;
/// `None` where the design has no such request (a thread has no event loop to block; a call to
/// another service is awaited, never offloaded).
pub fn beside_quick(wait: Wait, design: Design) -> Option<Prediction> {
    use Design::*;
    let (blocked, why) = match (wait, design) {
        (Wait::Timer, OneThread) => (
            true,
            "one thread, held by the sleep: the /nosleep waits for it",
        ),
        (Wait::Timer | Wait::Database | Wait::Service, FourThreads) => {
            (false, "another of the threads answers /nosleep")
        }
        (Wait::Timer, EventLoop) => (false, "the sleep is awaited: the thread is free meanwhile"),
        (Wait::Timer | Wait::Block, OffloadPool) => {
            (false, "the blocking sleep is on a pool thread, and awaited")
        }
        (Wait::Timer, DjangoSync) => (true, "runserver's one thread sleeps"),
        (Wait::Timer | Wait::Service, DjangoThreads) => (false, "another thread answers /nosleep"),
        (Wait::Timer, DjangoAsync) => (false, "asyncio.sleep is awaited: the loop is free"),
        (Wait::Cpu, OneThread) => (
            true,
            "one thread, busy computing: the /nosleep waits for it",
        ),
        (Wait::Cpu, FourThreads) => (false, "another thread, on another core, answers"),
        (Wait::Cpu, EventLoop) => (
            true,
            "computing never awaits: the runtime thread is held throughout",
        ),
        (Wait::Cpu, OffloadPool) => (false, "the work is on a pool thread, awaited"),
        (Wait::Cpu, DjangoSync) => (true, "the one thread computes"),
        (Wait::Cpu, DjangoThreads) => (
            false,
            "another thread answers, taking the GIL in the computing one's pauses",
        ),
        (Wait::Cpu, DjangoAsync) => (true, "computing in a coroutine holds the loop"),
        (Wait::Database, OneThread) => (
            true,
            "the one handler thread is parked reading the database's answer",
        ),
        (Wait::Database, EventLoop) => (
            false,
            "the query is awaited: the thread serves others meanwhile",
        ),
        (Wait::Database, OffloadPool) => (false, "the blocking client is on the pool, awaited"),
        (Wait::Database, DjangoSync) => {
            (true, "runserver's one thread is parked in psycopg's read")
        }
        (Wait::Database, DjangoThreads) => (
            false,
            "a thread per request, each with a connection of its own",
        ),
        (Wait::Database, DjangoAsync) => (
            false,
            "sync_to_async runs the query on a thread of its own; the loop is free",
        ),
        (Wait::Service, OneThread) => (
            true,
            "the one handler thread is parked reading the upstream's answer",
        ),
        (Wait::Service, EventLoop) => (
            false,
            "the call is awaited: the thread serves others meanwhile",
        ),
        (Wait::Service, DjangoSync) => (true, "runserver's one thread reads the upstream's answer"),
        (Wait::Service, DjangoAsync) => (false, "the call is awaited on asyncio's streams"),
        (Wait::Block, EventLoop) => (true, "a blocking sleep holds the runtime's one thread"),
        (Wait::Block, DjangoAsync) => (true, "time.sleep in a coroutine holds the loop"),
        (Wait::Service, OffloadPool)
        | (Wait::Block, OneThread | FourThreads | DjangoSync | DjangoThreads) => return None,
    };
    Some(if blocked {
        Prediction::blocked(why)
    } else {
        Prediction::not_blocked(why)
    })
}

/// [`beside_quick`], for an experiment that sends only what each of its designs has.
pub fn predicted(wait: Wait, design: Design) -> Prediction {
    beside_quick(wait, design)
        .unwrap_or_else(|| panic!("{design:?} has no request that waits on {wait:?}"))
}
