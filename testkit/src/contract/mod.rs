//! The checks of the interface (docs/interface.md) that hold for both servers alike, each a function of the binary.
//!
//! What differs between the servers (whether a `/sleep` holds the others up) is measured by
//! [`nosleep_during`] and [`sleeps_sent_together`], and judged in each server's own tests. The
//! checks are grouped by area, one module each: routes, connections, clients, identity (and the
//! log), command line, shutdown, page (and CORS), overload (whose checks each server calls with its
//! own queue); each reads raw answers with [`crate::wire`].

/// Generates one `#[test]` per contract check for the server binary `$binary`.
#[macro_export]
macro_rules! contract_tests {
    ($binary:expr) => {
        $crate::each_check!(contract, $binary;
            routes_answer_as_the_contract_says,
            sleep_flags_set_the_default_and_the_maximum,
            bad_seconds_are_refused_at_once,
            unknown_paths_are_404,
            other_methods_are_405_with_allow,
            head_is_get_without_a_body,
            answers_on_one_connection_are_framed_one_after_another,
            connection_headers_say_whether_the_connection_stays_open,
            compute_uses_the_handler_threads_cpu_and_holds_it,
            http_clients_no_one_here_wrote_complete_without_a_stall,
            a_fresh_server_answers_a_keep_alive_burst_without_a_stall,
            answers_name_the_process_and_the_handler_thread,
            every_request_is_logged_as_it_happens,
            malformed_requests_get_a_4xx_and_the_server_keeps_serving,
            bad_flags_exit_2_with_one_line,
            help_and_version_work,
            a_port_in_use_is_one_clear_line,
            sigterm_during_a_sleep_still_answers_it_then_exits_0,
            sigint_exits_0,
            the_index_page_offers_the_experiment_and_answers_are_never_cached,
            cors_lets_loopback_pages_read_answers_and_no_other,
            an_origin_is_echoed_only_when_it_is_a_whole_loopback_origin,
            shutdown_waits_for_a_stalled_client_no_longer_than_the_grace_period,
            an_idle_server_wakes_for_nothing,
        );
    };
}

mod clients;
mod command_line;
mod connections;
mod identity;
mod idle;
mod overload;
mod page;
mod routes;
mod shutdown;

pub use clients::*;
pub use command_line::*;
pub use connections::*;
pub use identity::*;
pub use idle::*;
pub use overload::*;
pub use page::*;
pub use routes::*;
pub use shutdown::*;

use std::thread;
use std::time::Duration;

use crate::{all_at_once, Reply, Server};

/// Sends `waiting` (`/sleep?seconds=S`, say), waits until its handler has started, then sends
/// `/nosleep`. Returns both replies: `(waiting, nosleep)`.
pub fn nosleep_during(server: &Server, waiting: &str) -> (Reply, Reply) {
    thread::scope(|scope| {
        let waiter = scope.spawn(|| server.get(waiting));
        server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with(waiting));
        let nosleep = server.get("/nosleep");
        (waiter.join().unwrap(), nosleep)
    })
}

/// Sends `count` copies of `/sleep?seconds=S` at once; returns the replies and the wall time
/// from the first request sent to the last answer received.
pub fn sleeps_sent_together(server: &Server, count: usize, seconds: f64) -> (Vec<Reply>, Duration) {
    let target = format!("/sleep?seconds={seconds}");
    let replies = all_at_once(server, &vec![target.as_str(); count]);
    let first_sent = replies.iter().map(|reply| reply.sent_at).min().unwrap();
    let last_answered = replies.iter().map(|reply| reply.answered_at).max().unwrap();
    (replies, last_answered - first_sent)
}
