//! `docs/load.svg`: a panel per workload; x is the offered rate and y the quick requests' p99,
//! both on log scales; a line per design, measured solid (filled dots) and the model dashed
//! (hollow dots), and each design's predicted knee (the model's capacity) marked by a short tick
//! on the x axis.

use svg::node::element::path::Data;
use svg::node::element::{Circle, Group, Line, Path, Rectangle, Text};
use svg::Document;

use super::{Design, Sweep, TrafficReport, Workload};

const WIDTH: f64 = 900.0;
const PANEL: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 260.0;
const TOP: f64 = 40.0;
/// The axes' ranges, in requests a second and milliseconds.
const RATES: (f64, f64) = (10.0, 3000.0);
const MILLIS: (f64, f64) = (0.1, 10_000.0);

pub(crate) fn colour(design: Design) -> &'static str {
    match design {
        Design::OneThread => "#c0392b",
        Design::FourThreads => "#e67e22",
        Design::EventLoop => "#2471a3",
        Design::OffloadPool => "#27ae60",
        Design::DjangoSync => "#7b241c",
        Design::DjangoThreads => "#7e5109",
        Design::DjangoAsync => "#8e44ad",
    }
}

pub(crate) fn log_scale(value: f64, (low, high): (f64, f64), length: f64) -> f64 {
    let clamped = value.clamp(low, high);
    (clamped.ln() - low.ln()) / (high.ln() - low.ln()) * length
}

pub fn draw(report: &TrafficReport) -> Document {
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| report.sweeps.iter().any(|s| s.workload == *w))
        .collect();
    let height = TOP + workloads.len() as f64 * (PANEL + 60.0) + 20.0;
    let mut document = canvas(
        WIDTH,
        height,
        "Quick requests' p99 against the offered rate (log scales): measured solid, model dashed; ticks: predicted knees",
    );
    for (at, workload) in workloads.iter().enumerate() {
        let top = TOP + at as f64 * (PANEL + 60.0) + 20.0;
        let sweeps: Vec<&Sweep> = report
            .sweeps
            .iter()
            .filter(|s| s.workload == *workload)
            .collect();
        document = document.add(panel(&sweeps, top));
    }
    document
}

/// One workload's panel: `sweeps` are its sweeps, at least one.
fn panel(sweeps: &[&Sweep], top: f64) -> Group {
    let width = WIDTH - LEFT - RIGHT;
    let x = |rate: f64| LEFT + log_scale(rate, RATES, width);
    let y = |ms: f64| top + PANEL - log_scale(ms, MILLIS, PANEL);
    let mut group = Group::new()
        .add(text(
            LEFT,
            top - 6.0,
            14.0,
            &format!("10% waits on {}", sweeps[0].workload_label()),
        ))
        .add(axis_line(LEFT, top + PANEL, LEFT + width, top + PANEL))
        .add(axis_line(LEFT, top, LEFT, top + PANEL));
    for rate in [10.0, 100.0, 1000.0] {
        group = group.add(small(
            x(rate),
            top + PANEL + 16.0,
            &format!("{rate}/s"),
            "middle",
        ));
    }
    for ms in [1.0, 10.0, 100.0, 1000.0] {
        group = group.add(small(LEFT - 6.0, y(ms) + 4.0, &format!("{ms} ms"), "end"));
    }
    for (row, sweep) in sweeps.iter().enumerate() {
        let points = |pick: fn(&super::Step) -> f64| -> Vec<(f64, f64)> {
            sweep
                .steps
                .iter()
                .map(|s| (x(s.rate), y(pick(s))))
                .collect()
        };
        let measured = points(|s| s.classes[0].measured.p99);
        let predicted = points(|s| s.classes[0].predicted.p99);
        let hue = colour(sweep.design);
        // A dot at each step, so that a sweep of one step shows too: filled measured, hollow
        // predicted.
        for &(x, y) in &measured {
            group = group.add(dot(x, y, hue, hue));
        }
        for &(x, y) in &predicted {
            group = group.add(dot(x, y, hue, "white"));
        }
        group = group
            .add(polyline(&measured, hue, None))
            .add(polyline(&predicted, hue, Some("6 4")))
            .add(
                Line::new()
                    .set("x1", x(sweep.capacity))
                    .set("x2", x(sweep.capacity))
                    .set("y1", top + PANEL - 8.0)
                    .set("y2", top + PANEL + 4.0)
                    .set("stroke", hue)
                    .set("stroke-width", 3),
            )
            .add(
                small(
                    LEFT + width + 16.0,
                    top + 20.0 + row as f64 * 20.0,
                    sweep.design.label(),
                    "start",
                )
                .set("fill", hue),
            );
    }
    group
}

/// A white picture of `width` by `height`, its title at the top left: how the `load` and
/// `overload` charts begin.
pub(crate) fn canvas(width: f64, height: f64, title: &str) -> Document {
    Document::new()
        .set("viewBox", (0, 0, width, height))
        .set("width", width)
        .set("height", height)
        .set("font-family", "sans-serif")
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(text(LEFT, 24.0, 16.0, title))
}

pub(crate) fn polyline(points: &[(f64, f64)], colour: &str, dashes: Option<&str>) -> Path {
    let mut data = Data::new();
    for (at, &(x, y)) in points.iter().enumerate() {
        data = if at == 0 {
            data.move_to((x, y))
        } else {
            data.line_to((x, y))
        };
    }
    let path = Path::new()
        .set("d", data)
        .set("fill", "none")
        .set("stroke", colour)
        .set("stroke-width", 2);
    match dashes {
        Some(dashes) => path.set("stroke-dasharray", dashes),
        None => path,
    }
}

fn dot(x: f64, y: f64, colour: &str, fill: &str) -> Circle {
    Circle::new()
        .set("cx", x)
        .set("cy", y)
        .set("r", 3)
        .set("stroke", colour)
        .set("fill", fill)
}

pub(crate) fn axis_line(x1: f64, y1: f64, x2: f64, y2: f64) -> Line {
    Line::new()
        .set("x1", x1)
        .set("y1", y1)
        .set("x2", x2)
        .set("y2", y2)
        .set("stroke", "#555")
}

pub(crate) fn text(x: f64, y: f64, size: f64, content: &str) -> Text {
    Text::new(content)
        .set("x", x)
        .set("y", y)
        .set("font-size", size)
}

pub(crate) fn small(x: f64, y: f64, content: &str, anchor: &str) -> Text {
    text(x, y, 12.0, content).set("text-anchor", anchor)
}
