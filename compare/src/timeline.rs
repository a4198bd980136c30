//! The timeline picture (`--svg`): one lane per request, grouped by scenario and server, on one
//! time axis. A bar runs from when a request was sent to when it was answered; its red part is
//! time spent waiting behind other requests (or for a core), its blue part the request's own
//! work: its sleep, or its CPU time.

use svg::node::element::{Group, Line, Rectangle, Text};
use svg::Document;

use crate::report::{wrap, Report, RequestReport};
use crate::scale::{ScaleReport, ScaleServer};

const WIDTH: f64 = 1000.0;
const LABELS: f64 = 260.0; // the narrowest column of request labels, left of the plot
const LABEL_CHAR: f64 = 8.5; // the width of a character of a label (14 px, monospace)
const TITLE_CHARS: usize = 88; // the most characters a scenario's title line holds
const MARGIN: f64 = 24.0;
const LANE: f64 = 30.0;
const BAR: f64 = 18.0;
const SERVER_TITLE: f64 = 24.0; // above a server's lanes
const VERDICT: f64 = 30.0; // below them
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";
const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const WAITING: &str = "#e0605e";
const WORKING: &str = "#3d6fc4";
const GRID: &str = "#d9d9d9";
const MEMORY: &str = "#8e6bbf";
const THREADS: &str = "#d99a2b";

/// Draws every scenario of `report`.
pub fn draw(report: &Report) -> Document {
    let axis = Axis::fitting(report);
    let mut y = MARGIN;
    let mut picture = Group::new();

    picture = picture.add(legend(y, MARGIN));
    y += 40.0;
    for scenario in &report.scenarios {
        let title = format!("{}: {}", scenario.name, scenario.description);
        for line in wrap(&title, TITLE_CHARS) {
            picture = picture.add(text(MARGIN, y + 18.0, 19.0, "bold", &line));
            y += 26.0;
        }
        y += 8.0;
        // The grid goes down first, so the bars are drawn over it.
        let lanes: usize = scenario
            .servers
            .iter()
            .map(|server| server.requests.len())
            .sum();
        let bottom =
            y + scenario.servers.len() as f64 * (SERVER_TITLE + VERDICT) + lanes as f64 * LANE;
        picture = picture.add(axis.draw(y, bottom));
        for server in &scenario.servers {
            picture = picture.add(text(MARGIN, y + 16.0, 16.0, "bold", &server.command));
            y += SERVER_TITLE;
            for request in &server.requests {
                picture = picture.add(
                    lane(request, &axis, y)
                        .set("class", "lane")
                        .set("data-scenario", scenario.name.as_str())
                        .set("data-server", server.server)
                        .set("data-request", request.label.as_str()),
                );
                y += LANE;
            }
            let colour = if server.blocked { WAITING } else { WORKING };
            picture = picture
                .add(text(MARGIN, y + 14.0, 15.0, "normal", &server.verdict).set("fill", colour));
            y += VERDICT;
        }
        y += 52.0;
    }
    for scale in report.scale.iter().chain(&report.fetch_scale) {
        let (drawn, below) = scale_section(scale, y);
        picture = picture.add(drawn);
        y = below;
    }
    if !report.growth.is_empty() {
        let (drawn, below) = growth_section(&report.growth, y);
        picture = picture.add(drawn);
        y = below;
    }
    let height = y + MARGIN;
    Document::new()
        .set("viewBox", (0, 0, WIDTH, height))
        .set("width", WIDTH)
        .set("height", height)
        .set("font-family", FONT)
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(picture)
}

/// The `scale` scenario: three panels, each with an axis of its own unit. Latency (seconds):
/// per server, its latencies from fastest to slowest (from the 0th to the 100th percentile,
/// darker from the 10th to the 90th, a tick at the median). Memory per waiting request (KiB).
/// OS threads at the peak.
fn scale_section(scale: &ScaleReport, mut y: f64) -> (Group, f64) {
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
    let most = |value: fn(&ScaleServer) -> f64| scale.servers.iter().map(value).fold(0.0, f64::max);
    let latency = Axis::of(
        most(|s| s.measured.latency_max_s),
        widest,
        "s",
        "latency: seconds from the request sent to its answer",
    );
    let (drawn, below) = panel(scale, &latency, y + 8.0, "latency", |server, axis, y| {
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
    group = group.add(drawn);
    let memory = Axis::of(
        most(|s| s.rss_per_request_kib),
        widest,
        "KiB",
        "memory per waiting request: (peak RSS - idle RSS) / requests, KiB",
    );
    let (drawn, below) = panel(scale, &memory, below, "memory", |server, axis, y| {
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
    group = group.add(drawn);
    let threads = Axis::of(
        most(|s| s.peak_os_threads as f64),
        widest,
        "",
        "OS threads at the peak",
    );
    let (drawn, below) = panel(scale, &threads, below, "threads", |server, axis, y| {
        let end = axis.x(server.peak_os_threads as f64).max(axis.left + 2.0);
        let said = format!(
            "{} OS threads at the peak (idle: {})",
            server.peak_os_threads, server.idle_os_threads
        );
        Group::new()
            .add(bar(axis.left, end, y, THREADS))
            .add(beside(end, y, &said))
    });
    (group.add(drawn), below)
}

/// One panel of the scale section: a bar per server of `scale` from `draw`, on `axis`, from `y`
/// down; the group and where the next panel may begin.
fn panel(
    scale: &ScaleReport,
    axis: &Axis,
    y: f64,
    class: &str,
    draw: impl Fn(&ScaleServer, &Axis, f64) -> Group,
) -> (Group, f64) {
    let labelled: Vec<(String, &ScaleServer)> = scale
        .servers
        .iter()
        .map(|server| (server.command.clone(), server))
        .collect();
    labelled_panel(&labelled, axis, y, class, draw)
}

/// A bar per labelled server from `draw`, on `axis`, from `y` down.
fn labelled_panel(
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
fn growth_section(steps: &[ScaleReport], mut y: f64) -> (Group, f64) {
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
    let (drawn, below) = labelled_panel(&servers, &memory, y + 8.0, "memory", |server, axis, y| {
        let end = axis.x(server.rss_per_request_kib).max(axis.left + 2.0);
        let said = format!("{:.1} KiB", server.rss_per_request_kib);
        Group::new()
            .add(bar(axis.left, end, y, MEMORY))
            .add(beside(end, y, &said))
    });
    group = group.add(drawn);
    let threads = Axis::of(
        most(|s| s.peak_os_threads as f64),
        widest,
        "",
        "OS threads at the peak",
    );
    let (drawn, below) = labelled_panel(&servers, &threads, below, "threads", |server, axis, y| {
        let end = axis.x(server.peak_os_threads as f64).max(axis.left + 2.0);
        let said = format!("{} threads", server.peak_os_threads);
        Group::new()
            .add(bar(axis.left, end, y, THREADS))
            .add(beside(end, y, &said))
    });
    (group.add(drawn), below)
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

/// A lane's name, right-aligned in the label column.
fn label(name: &str, axis: &Axis, y: f64) -> Text {
    Text::new(name)
        .set("x", axis.left - 12.0)
        .set("y", y + BAR - 4.0)
        .set("font-family", MONO)
        .set("font-size", 14)
        .set("text-anchor", "end")
}

fn lane(request: &RequestReport, axis: &Axis, y: f64) -> Group {
    let mut lane = Group::new().add(label(&request.label, axis, y));
    let start = axis.x(request.sent_s);
    let Some(answered) = request.answered_s else {
        let outline = Rectangle::new()
            .set("x", start)
            .set("y", y)
            .set("width", (axis.x(axis.end) - start).max(4.0))
            .set("height", BAR)
            .set("fill", "none")
            .set("stroke", "#777")
            .set("stroke-dasharray", "6 4");
        let why = request.error.as_deref().unwrap_or("no answer");
        return lane
            .add(outline)
            .add(text(start + 8.0, y + BAR - 4.0, 13.0, "normal", why));
    };
    // The wait comes first: a handler starts its own sleep only once it gets to run.
    let latency = answered - request.sent_s;
    let waited = (latency - request.work_s).max(0.0);
    let (wait_end, end) = (axis.x(request.sent_s + waited), axis.x(answered));
    for (from, to, colour) in [(start, wait_end, WAITING), (wait_end, end, WORKING)] {
        if to - from >= 0.5 {
            lane = lane.add(bar(from, to, y, colour));
        }
    }
    if end - start < 3.0 {
        lane = lane.add(bar(start, start + 3.0, y, WORKING)); // visible, however quick
    }
    let took = request
        .latency_s
        .map(|s| crate::verdict::seconds(std::time::Duration::from_secs_f64(s)));
    lane.add(text(
        end.max(start + 3.0) + 8.0,
        y + BAR - 4.0,
        13.0,
        "normal",
        &took.unwrap_or_default(),
    ))
}

fn bar(from: f64, to: f64, y: f64, colour: &str) -> Rectangle {
    Rectangle::new()
        .set("x", from)
        .set("y", y)
        .set("width", to - from)
        .set("height", BAR)
        .set("fill", colour)
}

fn text(x: f64, y: f64, size: f64, weight: &str, content: &str) -> Text {
    Text::new(content)
        .set("x", x)
        .set("y", y)
        .set("font-size", size)
        .set("font-weight", weight)
}

fn legend(y: f64, left: f64) -> Group {
    let mut legend = Group::new();
    let mut x = left;
    for (colour, meaning) in [
        (WAITING, "waiting behind other requests, or for a core"),
        (WORKING, "the request's own sleep or CPU time"),
    ] {
        legend = legend.add(bar(x, x + 26.0, y, colour)).add(text(
            x + 34.0,
            y + 14.0,
            14.0,
            "normal",
            meaning,
        ));
        x += 360.0;
    }
    legend
}

/// The time axis: seconds from each scenario's start, the same scale for every scenario.
struct Axis {
    end: f64,
    step: f64,
    /// Where the plot begins: right of the widest request label.
    left: f64,
    /// What a tick counts (`s`, `KiB`, `threads`), and what the axis measures, in words.
    unit: &'static str,
    caption: &'static str,
}

impl Axis {
    fn fitting(report: &Report) -> Axis {
        let latest = report
            .scenarios
            .iter()
            .flat_map(|scenario| &scenario.servers)
            .flat_map(|server| &server.requests)
            .map(|request| request.answered_s.unwrap_or(request.sent_s))
            .fold(0.0, f64::max);
        let widest = report
            .scenarios
            .iter()
            .flat_map(|scenario| &scenario.servers)
            .flat_map(|server| &server.requests)
            .map(|request| request.label.len())
            .max()
            .unwrap_or(0);
        Axis::up_to(latest, widest)
    }

    /// An axis from 0 to past `latest` seconds, right of labels `widest` characters long.
    fn up_to(latest: f64, widest: usize) -> Axis {
        Axis::of(latest, widest, "s", "seconds since the scenario began")
    }

    /// An axis from 0 to past `most`, counted in `unit`, with ticks at 1, 2 or 5 times a power
    /// of ten.
    fn of(most: f64, widest: usize, unit: &'static str, caption: &'static str) -> Axis {
        let most = most.max(0.001);
        let step = (-3..=7)
            .flat_map(|power| [1.0, 2.0, 5.0].map(|base| base * 10f64.powi(power)))
            .find(|step| most / step <= 10.0)
            .unwrap_or(1e8);
        Axis {
            // A value a hair past a whole step does not earn the axis another step.
            end: (most / step - 0.01).ceil().max(1.0) * step,
            step,
            left: (MARGIN + 12.0 + widest as f64 * LABEL_CHAR).max(LABELS),
            unit,
            caption,
        }
    }

    fn x(&self, value: f64) -> f64 {
        self.left + (WIDTH - self.left - MARGIN * 3.0) * (value / self.end)
    }

    fn draw(&self, top: f64, bottom: f64) -> Group {
        let mut axis = Group::new().set("class", "axis");
        let ticks = (self.end / self.step).round() as usize;
        for i in 0..=ticks {
            let seconds = self.step * i as f64;
            let x = self.x(seconds);
            axis = axis
                .add(
                    Line::new()
                        .set("x1", x)
                        .set("x2", x)
                        .set("y1", top)
                        .set("y2", bottom)
                        .set("stroke", GRID),
                )
                .add(
                    text(
                        x,
                        bottom + 18.0,
                        13.0,
                        "normal",
                        format!("{} {}", round(seconds), self.unit).trim_end(),
                    )
                    .set("text-anchor", "middle"),
                );
        }
        axis.add(
            text(
                self.x(self.end / 2.0),
                bottom + 38.0,
                13.0,
                "normal",
                self.caption,
            )
            .set("text-anchor", "middle")
            .set("fill", "#555"),
        )
    }
}

/// A tick value without float noise: `0.3`, not `0.30000000000000004`.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
