//! Draws the bench's figures as SVG charts, with the standard library only.
//!
//! ```text
//! cargo run --release -p rcos-bench -- --pycos | tee results.txt
//! cargo run --release -p rcos-bench --bin charts -- results.txt book/src/images/
//! ```
//!
//! Reads the `RESULT,<impl>,<workload>,<value>,<unit>` and
//! `SERIES,<impl>,<series>,<x>,<value>,<unit>` lines of a run and writes
//! `perf-<workload>.svg` (a bar per implementation) and `perf-series-<series>.svg` (a
//! line per implementation, x on a log scale) into the output directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Implementations in drawing order, with their colours.
const COLOURS: &[(&str, &str)] = &[
    ("rcos", "#c0392b"),
    ("rcos-1t", "#e59866"),
    ("floor", "#7f8c8d"),
    ("floor-1t", "#bdc3c7"),
    ("tokio", "#2471a3"),
    ("tokio-1t", "#85c1e9"),
    ("ractor", "#229954"),
    ("kameo", "#7d3c98"),
    ("actix", "#d68910"),
    ("pycos", "#6e2c00"),
];

fn colour(imp: &str) -> &'static str {
    COLOURS
        .iter()
        .find(|(i, _)| *i == imp)
        .map_or("#555555", |(_, c)| c)
}

fn order(imp: &str) -> usize {
    COLOURS
        .iter()
        .position(|(i, _)| *i == imp)
        .unwrap_or(COLOURS.len())
}

fn lower_is_better(unit: &str) -> bool {
    unit != "M msg/s"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v >= 100.0 || (v >= 1.0 && v.fract() == 0.0) {
        let s = format!("{v:.0}");
        // Thousands separators.
        let bytes: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in bytes.iter().enumerate() {
            if i > 0 && (bytes.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(*c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn svg_open(w: u32, h: u32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"
    )
}

/// A horizontal bar per implementation. Bars more than 5x the largest of the others
/// (pycos, usually) are cut short and marked, with their value written out.
fn bar_chart(workload: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let row = 24.0;
    let (left, right, top) = (90.0, 130.0, 48.0);
    let width = 640.0;
    let height = top + row * bars.len() as f64 + 34.0;
    let plot = width - left - right;
    let mut values: Vec<f64> = bars.iter().map(|(_, v)| *v).collect();
    values.sort_by(f64::total_cmp);
    let max_all = values.last().copied().unwrap_or(1.0);
    let second = values.iter().rev().nth(1).copied().unwrap_or(max_all);
    let scale_max = if max_all > 5.0 * second && bars.len() > 2 {
        second * 1.15
    } else {
        max_all
    };
    let better = if lower_is_better(unit) {
        "lower is better"
    } else {
        "higher is better"
    };
    let mut s = svg_open(width as u32, height as u32);
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>\
         <text x=\"10\" y=\"37\" fill=\"#555\">{} ({better})</text>",
        escape(workload),
        escape(unit)
    );
    for (i, (imp, v)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let cut = *v > scale_max;
        let w = (v.min(scale_max) / scale_max * plot).max(1.0);
        let weight = if imp == "rcos" || imp == "rcos-1t" {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"{weight}>{}</text>\
             <rect x=\"{left}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\"{weight}>{}{}</text>",
            left - 6.0,
            y + 15.0,
            escape(imp),
            y + 3.0,
            row - 6.0,
            colour(imp),
            left + w + 5.0,
            y + 15.0,
            fmt(*v),
            if cut { " (bar cut)" } else { "" }
        );
        if cut {
            let x = left + w - 14.0;
            let _ = writeln!(
                s,
                "<path d=\"M{x:.1} {:.1} l6 {:.1} M{:.1} {:.1} l6 {:.1}\" stroke=\"#fff\" stroke-width=\"2\"/>",
                y + 2.0,
                row - 4.0,
                x + 5.0,
                y + 2.0,
                row - 4.0
            );
        }
    }
    let axis_y = top + row * bars.len() as f64 + 4.0;
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{axis_y}\" stroke=\"#333\"/>\
         <text x=\"{left}\" y=\"{}\" fill=\"#555\" font-size=\"11\">0</text>\
         <text x=\"{}\" y=\"{}\" fill=\"#555\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        axis_y + 14.0,
        left + plot,
        axis_y + 14.0,
        fmt(scale_max)
    );
    s.push_str("</svg>\n");
    s
}

/// A line per implementation over x on a log scale; y from 0, linear.
fn line_chart(series: &str, unit: &str, x_label: &str, lines: &Lines) -> String {
    let (width, height) = (640.0, 400.0);
    let (left, right, top, bottom) = (70.0, 110.0, 50.0, 50.0);
    let (pw, ph) = (width - left - right, height - top - bottom);
    let xs: Vec<f64> = lines.values().flatten().map(|p| p.0).collect();
    let ys: Vec<f64> = lines
        .values()
        .flatten()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (xmin, xmax) = (
        xs.iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor(),
        xs.iter()
            .copied()
            .fold(1.0, f64::max)
            .log10()
            .ceil()
            .max(1.0),
    );
    let ymax = nice(ys.iter().copied().fold(0.0, f64::max) * 1.05);
    let px = |x: f64| left + (x.log10() - xmin) / (xmax - xmin).max(1.0) * pw;
    let py = |y: f64| top + ph - y / ymax * ph;
    let better = if lower_is_better(unit) {
        "lower is better"
    } else {
        "higher is better"
    };
    let mut s = svg_open(width as u32, height as u32);
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>\
         <text x=\"10\" y=\"37\" fill=\"#555\">{} ({better}) against {}</text>",
        escape(series),
        escape(unit),
        escape(x_label)
    );
    // Grid and axes.
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let y = py(v);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\" font-size=\"11\">{}</text>",
            left + pw,
            left - 6.0,
            y + 4.0,
            fmt(v)
        );
    }
    let mut e = xmin;
    while e <= xmax {
        let x = px(10f64.powf(e));
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"11\">{}</text>",
            top + ph,
            top + ph + 16.0,
            fmt(10f64.powf(e))
        );
        e += 1.0;
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"#333\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
        top + ph,
        left + pw,
        top + ph,
        top + ph,
        left + pw / 2.0,
        height - 12.0,
        escape(x_label)
    );
    let mut names: Vec<&String> = lines.keys().collect();
    names.sort_by_key(|n| order(n));
    for (i, name) in names.iter().enumerate() {
        let pts = &lines[*name];
        let path: Vec<String> = pts
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let c = colour(name);
        let wide = if name.starts_with("rcos") { 3 } else { 2 };
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"{wide}\"/>",
            path.join(" ")
        );
        for p in &path {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{c}\"/>");
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{c}\" stroke-width=\"{wide}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            left + pw + 10.0,
            left + pw + 30.0,
            left + pw + 35.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Each implementation's points, `(x, value)`.
type Lines = BTreeMap<String, Vec<(f64, f64)>>;

/// A round number at or above `v` for the top of an axis.
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if step * mag >= v {
            return step * mag;
        }
    }
    10.0 * mag
}

fn x_label(series: &str) -> &'static str {
    match series {
        "pingpong_pairs" => "pairs playing at once",
        "idle_tasks" => "idle tasks held",
        "broadcast_subscribers" => "subscribers",
        _ => "x",
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out_dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: charts RESULTS.txt OUT_DIR");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("cannot read {input}: {e}");
        std::process::exit(1);
    });
    let out = Path::new(out_dir);
    std::fs::create_dir_all(out).expect("the output directory can be made");

    // workload -> (unit, [(impl, value)])
    let mut results: BTreeMap<String, (String, Vec<(String, f64)>)> = BTreeMap::new();
    // series -> (unit, impl -> [(x, value)])
    let mut series: BTreeMap<String, (String, Lines)> = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.trim().split(',').collect();
        match parts[..] {
            ["RESULT", imp, workload, value, unit] => {
                let Ok(v) = value.parse::<f64>() else {
                    continue;
                };
                if !v.is_finite() {
                    continue;
                }
                let entry = results
                    .entry(workload.to_string())
                    .or_insert_with(|| (unit.to_string(), Vec::new()));
                entry.1.retain(|(i, _)| i != imp);
                entry.1.push((imp.to_string(), v));
            }
            ["SERIES", imp, name, x, value, unit] => {
                let (Ok(x), Ok(v)) = (x.parse::<f64>(), value.parse::<f64>()) else {
                    continue;
                };
                let entry = series
                    .entry(name.to_string())
                    .or_insert_with(|| (unit.to_string(), BTreeMap::new()));
                entry.1.entry(imp.to_string()).or_default().push((x, v));
            }
            _ => {}
        }
    }
    for (workload, (unit, mut bars)) in results {
        bars.sort_by_key(|(i, _)| order(i));
        let path = out.join(format!("perf-{workload}.svg"));
        std::fs::write(&path, bar_chart(&workload, &unit, &bars)).expect("the chart is written");
        println!("{}", path.display());
    }
    for (name, (unit, mut lines)) in series {
        for pts in lines.values_mut() {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let path = out.join(format!("perf-series-{name}.svg"));
        std::fs::write(&path, line_chart(&name, &unit, x_label(&name), &lines))
            .expect("the chart is written");
        println!("{}", path.display());
    }
}
