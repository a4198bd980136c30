//! `overload`'s figures as a person reads them: each run's periods, printed as it ends, and
//! `docs/overload.md`, with a few sentences composed from the same figures.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Bounded, Case, OverloadReport, Run, Settings, PERIODS_PER_T, RSS_BOUND_MIB};
use crate::traffic::page::ms;
use crate::traffic::{Design, Server};

/// How each figure was measured, said once on the page and after the run.
pub const METHOD: &str = "Open loop: per design, a fresh server is sent 90% /nosleep and 10% of \
    a 50 ms wait (× --scale; a timer on sync-server, CPU on async-server), each request on a new \
    connection when it is due, by one tokio current_thread client in compare's process, at half \
    the design's predicted capacity for T, twice it for T, and half again for 2T (arrivals \
    Poisson, drawn before the run). A client gives up --client-timeout after its request was \
    due, closing its connection; with --retries it sends again at once after a timeout or a 503. \
    Each period is a tenth of T; its figures are of the requests due in it, as rates per second. \
    Goodput: answered 200 in time. Quick p99: of the /nosleep requests not shed, one given up \
    counting as the timeout. Threads and RSS: the server's peak in the period, read from /proc. \
    The model (load/src/model.rs, simulate) is fed the same arrivals before the run, with each \
    class's cost measured on an unloaded server first, and told what the clients do and what \
    the server does with a request whose client has gone (sync-server and async-server's \
    blocking pool drop it) or that waited past the deadline (shed). Recovery: from the load's \
    drop to the end of the first period whose quick p99 is within 2× of the first phase's median period.";

fn p99(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), ms)
}

fn seconds(value: Option<Duration>) -> String {
    value.map_or("not by the end".to_owned(), |d| {
        format!("{:.1} s", d.as_secs_f64())
    })
}

/// The case's server, as a command line a reader can type.
fn command(case: Case, settings: &Settings) -> String {
    match case.server(settings) {
        Server::Ours(binary, flags) => std::iter::once(binary.to_owned())
            .chain(flags)
            .collect::<Vec<_>>()
            .join(" "),
        Server::Seed(stack) => stack.command().to_owned(),
    }
}

/// One line: capacity, goodput in the overload and recovery, measured beside the model and the
/// formula.
fn summary(run: &Run, settings: &Settings) -> String {
    let (goodput, goodput_model) = run.goodput_in_overload();
    let (recovered, recovered_model) = run.recovery(settings.period / PERIODS_PER_T);
    let formula = &run.formula;
    let mut line = format!(
        "goodput in the overload {goodput:.0}/s (model {goodput_model:.0}/s); recovery {} \
         (model {}; formula {})",
        seconds(recovered),
        seconds(recovered_model),
        seconds(Some(formula.recovery))
    );
    if let Some(after) = formula.goodput_gone_after {
        let _ = write!(
            line,
            "; the formula has nothing answered in time from {:.1} s into the overload",
            after.as_secs_f64()
        );
    }
    if let Some(bound) = formula.quick_p99_bound_ms {
        let _ = write!(line, "; quick p99 bound {} ms", ms(bound));
    }
    line
}

/// One run, as printed when it ends: the periods' table and the summary.
pub fn run_text(run: &Run, settings: &Settings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "overload: {} ({}): unloaded, a quick request takes {:.3} ms of its threads, a waiting \
         one {:.3} ms; predicted capacity {:.0}/s; offered {:.0}, {:.0}, then {:.0}/s",
        run.case.label(),
        command(run.case, settings),
        run.cost.quick.as_secs_f64() * 1000.0,
        run.cost.waiting.as_secs_f64() * 1000.0,
        run.formula.capacity,
        run.rates[0],
        run.rates[1],
        run.rates[2]
    );
    out += &table(run, settings);
    let _ = writeln!(out, "{}", summary(run, settings));
    if !run.kept_up {
        let _ = writeln!(
            out,
            "the client fell behind (lateness p99 {} ms): these are not the server's figures alone",
            ms(run.lateness_p99_ms)
        );
    }
    out
}

fn table(run: &Run, settings: &Settings) -> String {
    let tick = (settings.period / PERIODS_PER_T).as_secs_f64();
    let mut out = String::from(
        "| from s | offered /s | goodput /s (model) | quick p99 ms (model) | 503 /s (model) | timed out /s (model) | failed /s | threads | RSS MiB |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let rows = run.measured.iter().zip(&run.predicted).zip(&run.held);
    for (at, ((measured, predicted), held)) in rows.enumerate() {
        let _ = writeln!(
            out,
            "| {:.1} | {:.0} | {:.0} ({:.0}) | {} ({}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} | {} | {:.1} |",
            at as f64 * tick,
            measured.offered,
            measured.goodput,
            predicted.goodput,
            p99(measured.quick_p99_ms),
            p99(predicted.quick_p99_ms),
            measured.shed,
            predicted.shed,
            measured.timed_out,
            predicted.timed_out,
            measured.failed,
            held.threads,
            held.rss_kib as f64 / 1024.0
        );
    }
    out
}

/// The long overload's line.
pub fn bounded_text(bounded: &Bounded) -> String {
    let peak = bounded.peak_rss_kib as f64 / 1024.0;
    let verdict = if peak <= RSS_BOUND_MIB as f64 {
        "within"
    } else {
        "OVER"
    };
    format!(
        "overload held: {} at {:.0}/s for {:.0} s: peak RSS {peak:.1} MiB ({verdict} the bound of \
         {RSS_BOUND_MIB} MiB), peak threads {}; {} answered, {} given up by their clients, {} \
         refused or reset",
        bounded.case.label(),
        bounded.rate,
        bounded.length.as_secs_f64(),
        bounded.peak_threads,
        bounded.answered,
        bounded.timed_out,
        bounded.failed
    )
}

/// `docs/overload.md`.
pub fn page(report: &OverloadReport, command_line: &str, machine: &str) -> String {
    let settings = &report.settings;
    let mut out = String::new();
    out += "# Past the knee: more traffic than a design can serve, and back\n\n";
    let _ = writeln!(
        out,
        "Written by `{command_line}` on {machine}. T = {:.0} s, clients give up after {:.1} s{}; \
         the deadline, where a design has one, is {} ms. Each cell is measured, with the model's \
         prediction from the same arrivals beside it in brackets.\n",
        settings.period.as_secs_f64(),
        settings.client_timeout.as_secs_f64(),
        match settings.retries {
            0 => " and do not retry".to_owned(),
            n => format!(" and retry {n} time(s) after a timeout or a 503"),
        },
        settings.deadline().as_millis()
    );
    out += &crate::textwrap(super::METHOD, 96);
    out += "\n\n## In one table\n\n";
    out += "| design | capacity /s (model) | goodput in the overload /s (model) | its worst quick p99 ms (model) | recovery (model; formula) |\n| --- | --- | --- | --- | --- |\n";
    for run in &report.runs {
        let (goodput, goodput_model) = run.goodput_in_overload();
        let (recovered, recovered_model) = run.recovery(settings.period / PERIODS_PER_T);
        let (worst, worst_model) = run.worst_quick_p99_in_overload();
        let _ = writeln!(
            out,
            "| {} | {:.0} | {goodput:.0} ({goodput_model:.0}) | {} ({}) | {} ({}; {}) |",
            run.case.label(),
            run.formula.capacity,
            p99(worst),
            p99(worst_model),
            seconds(recovered),
            seconds(recovered_model),
            seconds(Some(run.formula.recovery))
        );
    }
    out += "\n";
    out += &crate::textwrap(&sentences(report), 96);
    out +=
        "\n\nThe formula keeps every request: the backlog grows at λ − μ a second and drains at \
        μ − λ′, so recovery takes T·(λ − μ)/(μ − λ′). Neither server keeps them all: sync-server \
        does not run a request whose client has gone, nor does async-server's blocking pool, so \
        the model, told so, is the prediction to read; the formula is what a server that runs \
        everything would do.\n\n";
    out += "A deadline sees only a queue the server holds. An event loop held by CPU work does \
        not read its sockets: the requests wait in the kernel, unread, where no deadline can see \
        them, and the loop runs each in turn, clients gone or not.";
    let looped = report.runs.iter().find(|run| {
        run.case
            == Case {
                design: Design::EventLoop,
                sheds: false,
            }
    });
    if let Some(looped) = looped {
        let (measured, model) = looped.goodput_in_overload();
        if measured > 1.5 * model {
            let _ = write!(
                out,
                " The model takes them first come, first served; the loop answered {measured:.0} \
                 a second in time in the overload where the model has {model:.0}, likely because \
                 it does not take them strictly in order (tokio looks for ready sockets between \
                 batches of tasks), so some fresh requests are answered while older ones wait."
            );
        }
    }
    out += "\n\n";
    if report
        .runs
        .iter()
        .any(|run| run.case.design == Design::DjangoSync)
    {
        out += "Django's `runserver` listens with a backlog of 10 (its `request_queue_size`; \
            Python's socketserver has 5): past that many connections waiting to be accepted, the kernel drops a new \
            one's first packet, and the client's kernel sends it again a second later. Those \
            requests wait in no queue the model knows; most of their clients have given up \
            before the server ever sees them, so it does no work for them either.\n\n";
    }
    if crate::scenario::machine_cores() <= 2 {
        out += "One miss has a reason the model leaves out: it gives each station a core of \
        its own. With the CPU work offloaded, two pool threads compute on the machine's two \
        cores, and the event loop (and the client) wait for the kernel's scheduler to give them \
        one back: the quick requests' p99 is milliseconds measured where the model has \
        fractions of one.\n";
    }
    out += "\n## Held at twice the capacity\n\n";
    for bounded in &report.bounded {
        let _ = writeln!(out, "- {}", bounded_text(bounded));
    }
    out += "\n## Period by period\n\n";
    for run in &report.runs {
        let _ = writeln!(
            out,
            "### {}\n\n`{}`: offered {:.0}, {:.0}, then {:.0}/s. {}.\n",
            run.case.label(),
            command(run.case, settings),
            run.rates[0],
            run.rates[1],
            run.rates[2],
            summary(run, settings)
        );
        out += &table(run, settings);
        out += "\n";
    }
    out
}

/// A few sentences from the figures: each design without and with its deadline.
fn sentences(report: &OverloadReport) -> String {
    let find = |design: Design, sheds: bool| {
        report
            .runs
            .iter()
            .find(|r| r.case == Case { design, sheds })
    };
    let mut out = String::new();
    for design in [Design::OneThread, Design::FourThreads, Design::OffloadPool] {
        let (Some(without), Some(with)) = (find(design, false), find(design, true)) else {
            continue;
        };
        let (plain, _) = without.goodput_in_overload();
        let (shedding, _) = with.goodput_in_overload();
        let _ = write!(
            out,
            "On {}, at twice its capacity of {:.0}/s, {plain:.0} requests a second were answered \
             in time without a deadline and {shedding:.0} with one. ",
            design.label(),
            without.formula.capacity
        );
    }
    if let Some(looped) = find(Design::EventLoop, false) {
        let (goodput, model) = looped.goodput_in_overload();
        let _ = write!(
            out,
            "With the CPU work on the event loop nothing can be shed: {goodput:.0} a second \
             (model {model:.0})."
        );
    }
    out
}
