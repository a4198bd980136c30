//! `docs/overload.svg`: a row per design; on the left its goodput (and in grey what was
//! offered) and on the right its quick p99 (log scale), period by period, measured solid and the
//! model dashed, with the overload shaded.

use svg::node::element::{Group, Rectangle};
use svg::Document;

use super::{OverloadReport, Period, Run, PERIODS_PER_T};
use crate::traffic::chart::{axis_line, canvas, colour, log_scale, polyline, small, text};

const WIDTH: f64 = 900.0;
const PANEL_WIDTH: f64 = 360.0;
const PANEL_HEIGHT: f64 = 130.0;
const ROW: f64 = PANEL_HEIGHT + 60.0;
const LEFT: f64 = 70.0;
const GAP: f64 = 90.0;
const TOP: f64 = 40.0;
/// The p99 axis, in milliseconds.
const MILLIS: (f64, f64) = (0.1, 10_000.0);

pub fn draw(report: &OverloadReport) -> Document {
    let height = TOP + report.runs.len() as f64 * ROW + 20.0;
    let mut document = canvas(
        WIDTH,
        height,
        "Goodput (left; offered in grey) and quick p99 (right, log) per period: measured solid, model dashed; the overload shaded",
    );
    for (at, run) in report.runs.iter().enumerate() {
        let top = TOP + at as f64 * ROW + 20.0;
        document = document.add(row(run, top));
    }
    document
}

/// The two panels of a row.
#[derive(Clone, Copy)]
enum Panel {
    Goodput,
    QuickP99,
}

impl Panel {
    fn left(self) -> f64 {
        match self {
            Panel::Goodput => LEFT,
            Panel::QuickP99 => LEFT + PANEL_WIDTH + GAP,
        }
    }

    fn pick(self, period: &Period) -> Option<f64> {
        match self {
            Panel::Goodput => Some(period.goodput),
            Panel::QuickP99 => period.quick_p99_ms,
        }
    }

    /// Where `value` goes, from the panel's top: goodput up to `highest`, p99 on a log scale.
    fn y(self, value: f64, highest: f64) -> f64 {
        match self {
            Panel::Goodput => PANEL_HEIGHT - value / highest * PANEL_HEIGHT,
            Panel::QuickP99 => PANEL_HEIGHT - log_scale(value, MILLIS, PANEL_HEIGHT),
        }
    }
}

fn row(run: &Run, top: f64) -> Group {
    let periods = run.measured.len().max(1) as f64;
    let hue = colour(run.case.design);
    let mut group =
        Group::new().add(text(LEFT, top - 6.0, 13.0, &run.case.label()).set("fill", hue));
    let highest = run
        .measured
        .iter()
        .chain(&run.predicted)
        .map(|p| p.offered.max(p.goodput))
        .fold(1.0, f64::max);
    for panel in [Panel::Goodput, Panel::QuickP99] {
        let left = panel.left();
        let x = |period: usize| left + (period as f64 + 0.5) / periods * PANEL_WIDTH;
        let y = |value: f64| top + panel.y(value, highest);
        let per_t = PERIODS_PER_T as f64;
        group = group
            .add(
                Rectangle::new()
                    .set("x", left + per_t / periods * PANEL_WIDTH)
                    .set("y", top)
                    .set("width", per_t / periods * PANEL_WIDTH)
                    .set("height", PANEL_HEIGHT)
                    .set("fill", "#f3e5e5"),
            )
            .add(axis_line(
                left,
                top + PANEL_HEIGHT,
                left + PANEL_WIDTH,
                top + PANEL_HEIGHT,
            ))
            .add(axis_line(left, top, left, top + PANEL_HEIGHT));
        group = match panel {
            Panel::Goodput => group
                .add(small(
                    left - 6.0,
                    top + 4.0,
                    &format!("{highest:.0}/s"),
                    "end",
                ))
                .add(small(left - 6.0, top + PANEL_HEIGHT + 4.0, "0", "end")),
            Panel::QuickP99 => [1.0, 100.0, 10_000.0].into_iter().fold(group, |group, ms| {
                group.add(small(left - 6.0, y(ms) + 4.0, &format!("{ms} ms"), "end"))
            }),
        };
        if let Panel::Goodput = panel {
            // What was offered, thin and grey: the gap down to goodput is what went unserved.
            let offered: Vec<(f64, f64)> = run
                .measured
                .iter()
                .enumerate()
                .map(|(at, p)| (x(at), y(p.offered)))
                .collect();
            group = group.add(polyline(&offered, "#aaa", None).set("stroke-width", 1));
        }
        for (periods, dashes) in [(&run.measured, None), (&run.predicted, Some("6 4"))] {
            let points: Vec<(f64, f64)> = periods
                .iter()
                .enumerate()
                .filter_map(|(at, p)| panel.pick(p).map(|v| (x(at), y(v))))
                .collect();
            group = group.add(polyline(&points, hue, dashes));
        }
    }
    group
}
