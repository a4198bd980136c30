//! The crowd scenarios' sections of the picture (`scale`, `fetch-scale`, `growth`): a panel per
//! measure, each with an axis of its own unit.

use svg::node::element::{Group, Text};

use super::{
    bar, label, text, wrap, Axis, BAR, LANE, MARGIN, MEMORY, THREADS, TITLE_CHARS, WIDTH, WORKING,
};
use crate::scale::{ScaleReport, ScaleServer};

/// The `scale` scenario: three panels, each with an axis of its own unit. Latency (seconds):
/// per server, its latencies from fastest to slowest (from the 0th to the 100th percentile,
/// darker from the 10th to the 90th, a tick at the median). Memory per waiting request (KiB).
/// OS threads at the peak.
pub(super) fn scale_section(scale: &ScaleReport, mut y: f64) -> (Group, f64) {
    let widest = scale
        .servers
        .iter()
        .map(|s| s.command.len())
        .max()
        .unwrap_or(0);
    let mut group = Group::new().set("class", "scale");
    let title = format!(
        "{}: {} concurrent {} ({} s): what each waiting request costs, a thread against a task",
        scale.name, scale.requests, scale.route, scale.sleep_s
    );
    for line in wrap(&title, TITLE_CHARS) {
        group = group.add(text(MARGIN, y + 18.0, 19.0, "bold", &line));
        y += 26.0;
    }
    let servers: Vec<(String, &ScaleServer)> = scale
        .servers
        .iter()
        .map(|server| (server.command.clone(), server))
        .collect();
    let most = |value: fn(&ScaleServer) -> f64| scale.servers.iter().map(value).fold(0.0, f64::max);
    let latency = Axis::of(
        most(|s| s.measured.latency_max_s),
        widest,
        "s",
        "latency: seconds from the request sent to its answer",
    );
    let (drawn, below) = panel(&servers, &latency, y + 8.0, "latency", |server, axis, y| {
        let deciles = &server.measured.latency_deciles_s;
        let [fastest, tenth, .., ninetieth, slowest] = deciles[..] else {
            return Group::new();
        };
        let x = |seconds: f64| axis.x(seconds);
        let end = x(slowest).max(x(fastest) + 2.0);
        let said = format!(
            "{} of {} answered, p50 {:.2} s, max {:.2} s",
            server.measured.answered,
            server.requests,
            server.measured.latency_p50_s,
            server.measured.latency_max_s
        );
        Group::new()
            .add(bar(x(fastest), end, y, "#9db5e0"))
            .add(bar(x(tenth), x(ninetieth).max(x(tenth) + 2.0), y, WORKING))
            .add(bar(x(deciles[5]) - 1.0, x(deciles[5]) + 1.0, y, "black"))
            .add(beside(end, y, &said))
    });
    let (costs, below) = cost_panels(&servers, widest, below);
    (group.add(drawn).add(costs), below)
}

/// What each waiting request costs, a panel per measure: memory per waiting request (KiB), and
/// OS threads at the peak, for the labelled `servers` from `y` down.
fn cost_panels(servers: &[(String, &ScaleServer)], widest: usize, y: f64) -> (Group, f64) {
    let most = |value: fn(&ScaleServer) -> f64| {
        servers
            .iter()
            .map(|(_, server)| value(server))
            .fold(0.0, f64::max)
    };
    let memory = Axis::of(
        most(|s| s.rss_per_request_kib),
        widest,
        "KiB",
        "memory per waiting request: (peak RSS - idle RSS) / requests, KiB",
    );
    let (memory, below) = panel(servers, &memory, y, "memory", |server, axis, y| {
        let end = axis.x(server.rss_per_request_kib).max(axis.left + 2.0);
        let said = format!(
            "{:.1} KiB per waiting request (peak RSS {:.1} MiB)",
            server.rss_per_request_kib,
            server.peak_rss_kib as f64 / 1024.0
        );
        Group::new()
            .add(bar(axis.left, end, y, MEMORY))
            .add(beside(end, y, &said))
    });
    let threads = Axis::of(
        most(|s| s.peak_os_threads as f64),
        widest,
        "",
        "OS threads at the peak",
    );
    let (threads, below) = panel(servers, &threads, below, "threads", |server, axis, y| {
        let end = axis.x(server.peak_os_threads as f64).max(axis.left + 2.0);
        let said = format!(
            "{} OS threads at the peak (idle: {})",
            server.peak_os_threads, server.idle_os_threads
        );
        Group::new()
            .add(bar(axis.left, end, y, THREADS))
            .add(beside(end, y, &said))
    });
    (Group::new().add(memory).add(threads), below)
}

/// A bar per labelled server from `draw`, on `axis`, from `y` down.
fn panel(
    servers: &[(String, &ScaleServer)],
    axis: &Axis,
    mut y: f64,
    class: &str,
    draw: impl Fn(&ScaleServer, &Axis, f64) -> Group,
) -> (Group, f64) {
    let bottom = y + servers.len() as f64 * LANE;
    let mut group = Group::new().set("class", class).add(axis.draw(y, bottom));
    for (name, server) in servers {
        group = group.add(label(name, axis, y)).add(draw(server, axis, y));
        y += LANE;
    }
    (group, bottom + 60.0)
}

/// The `growth` scenario: what a waiting request costs as their number grows, a thread against a
/// task: memory per waiting request (KiB) and OS threads at the peak, each on its own axis, a bar
/// per server at each size.
pub(super) fn growth_section(steps: &[ScaleReport], mut y: f64) -> (Group, f64) {
    let servers: Vec<(String, &ScaleServer)> = steps
        .iter()
        .flat_map(|step| {
            step.servers.iter().map(move |server| {
                let design = match server.handler_threads {
                    Some(_) => "a thread each",
                    None => "a task each",
                };
                (format!("{} waiting, {design}", step.requests), server)
            })
        })
        .collect();
    let widest = servers
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut group = Group::new().set("class", "growth");
    let title =
        "growth: what a waiting request costs as their number grows, a thread against a task";
    for line in wrap(title, TITLE_CHARS) {
        group = group.add(text(MARGIN, y + 18.0, 19.0, "bold", &line));
        y += 26.0;
    }
    let (costs, below) = cost_panels(&servers, widest, y + 8.0);
    (group.add(costs), below)
}

/// Words right of a bar ending at `end`, or inside its end where it reaches the plot's edge.
fn beside(end: f64, y: f64, said: &str) -> Text {
    if end + 320.0 < WIDTH {
        text(end + 8.0, y + BAR - 4.0, 13.0, "normal", said)
    } else {
        text(end - 8.0, y + BAR - 4.0, 13.0, "normal", said)
            .set("text-anchor", "end")
            .set("fill", "white")
    }
}
