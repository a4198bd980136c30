//! The timeline picture (`--svg`): one lane per request, grouped by scenario and server, on one
//! time axis. A bar runs from when a request was sent to when it was answered; its red part is
//! time spent waiting behind other requests (or for a core), its blue part the request's own
//! work: its sleep, or its CPU time. The crowd scenarios' sections are drawn by [`crowd_panels`].

mod crowd_panels;

use svg::node::element::{Group, Line, Rectangle, Text};
use svg::Document;

use crate::report::{wrap, Report, RequestReport};

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
        let (drawn, below) = crowd_panels::scale_section(scale, y);
        picture = picture.add(drawn);
        y = below;
    }
    if !report.growth.is_empty() {
        let (drawn, below) = crowd_panels::growth_section(&report.growth, y);
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
