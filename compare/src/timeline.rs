//! The timeline picture (`--svg`): one lane per request, grouped by scenario and server, on one
//! time axis. A bar runs from when a request was sent to when it was answered; its red part is
//! time spent waiting behind other requests (or for a core), its blue part the request's own
//! work: its sleep, or its CPU time.

use svg::node::element::{Group, Line, Rectangle, Text};
use svg::Document;

use crate::report::{wrap, Report, RequestReport};
use crate::scale::ScaleReport;

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
    if let Some(scale) = &report.scale {
        let (drawn, below) = scale_section(scale, y);
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

/// The `scale` scenario: per server, three bars: its latencies from fastest to slowest (from the
/// 0th to the 100th percentile, darker from the 10th to the 90th, a tick at the median, on the
/// time axis), its peak memory and its OS threads (each against the most of any server).
fn scale_section(scale: &ScaleReport, mut y: f64) -> (Group, f64) {
    let latest = scale
        .servers
        .iter()
        .map(|server| server.measured.latency_max_s)
        .fold(0.0, f64::max);
    let widest = scale
        .servers
        .iter()
        .map(|s| s.command.len())
        .max()
        .unwrap_or(0);
    let axis = Axis::up_to(latest, widest);
    let mut group = Group::new().set("class", "scale");
    let title = format!(
        "scale: {} concurrent /sleep ({} s): each server's latencies, peak memory and OS threads",
        scale.requests, scale.sleep_s
    );
    for line in wrap(&title, TITLE_CHARS) {
        group = group.add(text(MARGIN, y + 18.0, 19.0, "bold", &line));
        y += 26.0;
    }
    y += 8.0;
    let most = |value: fn(&crate::scale::ScaleServer) -> f64| {
        scale
            .servers
            .iter()
            .map(value)
            .fold(f64::MIN_POSITIVE, f64::max)
    };
    let (most_rss, most_threads) = (
        most(|s| s.peak_rss_kib as f64),
        most(|s| s.peak_os_threads as f64),
    );
    // The largest memory or thread count spans a little over half the plot, with room for its text.
    let full = (axis.x(axis.end) - axis.left) * 0.55;
    let row = LANE * 3.0 + 12.0;
    let bottom = y + scale.servers.len() as f64 * row;
    group = group.add(axis.draw(y, bottom));
    for server in &scale.servers {
        let deciles = &server.measured.latency_deciles_s;
        group = group.add(label(&server.command, &axis, y));
        if let [fastest, tenth, .., ninetieth, slowest] = deciles[..] {
            let x = |seconds: f64| axis.x(seconds);
            let end = x(slowest).max(x(fastest) + 2.0);
            group = group
                .add(bar(x(fastest), end, y, "#9db5e0"))
                .add(bar(x(tenth), x(ninetieth).max(x(tenth) + 2.0), y, WORKING))
                .add(bar(x(deciles[5]) - 1.0, x(deciles[5]) + 1.0, y, "black"));
            let said = format!(
                "{} of {} answered, p50 {:.2} s, max {:.2} s",
                server.measured.answered,
                server.requests,
                server.measured.latency_p50_s,
                server.measured.latency_max_s
            );
            // Right of the bar, or inside its end where the bar reaches the plot's edge.
            let words = if end + 320.0 < WIDTH {
                text(end + 8.0, y + BAR - 4.0, 13.0, "normal", &said)
            } else {
                text(end - 8.0, y + BAR - 4.0, 13.0, "normal", &said)
                    .set("text-anchor", "end")
                    .set("fill", "white")
            };
            group = group.add(words);
        }
        let rss = server.peak_rss_kib as f64;
        let threads = server.peak_os_threads as f64;
        for (at, share, colour, what) in [
            (
                1.0,
                rss / most_rss,
                MEMORY,
                format!(
                    "peak RSS {:.1} MiB, {:.1} KiB per waiting request",
                    rss / 1024.0,
                    server.rss_per_request_kib
                ),
            ),
            (
                2.0,
                threads / most_threads,
                THREADS,
                format!("{} OS threads at the peak", server.peak_os_threads),
            ),
        ] {
            let top = y + at * LANE;
            let end = axis.left + (full * share).max(2.0);
            group = group.add(bar(axis.left, end, top, colour)).add(text(
                end + 8.0,
                top + BAR - 4.0,
                13.0,
                "normal",
                &what,
            ));
        }
        y += row;
    }
    (group, bottom + 60.0)
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
        let latest = latest.max(0.001);
        let step = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
        ]
        .into_iter()
        .find(|step| latest / step <= 10.0)
        .unwrap_or(120.0);
        Axis {
            // An answer a millisecond past a whole step does not earn the axis another step.
            end: (latest / step - 0.01).ceil().max(1.0) * step,
            step,
            left: (MARGIN + 12.0 + widest as f64 * LABEL_CHAR).max(LABELS),
        }
    }

    fn x(&self, seconds: f64) -> f64 {
        self.left + (WIDTH - self.left - MARGIN * 3.0) * (seconds / self.end)
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
                        &format!("{} s", round(seconds)),
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
                "seconds since the scenario began",
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
