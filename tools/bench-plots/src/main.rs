//! Draws the benches' charts: every `target/bench-results/*.series.json` a `cargo bench` run
//! wrote (see `benches/support`'s `write_series`) becomes the SVG file it names, relative to
//! the repository (`docs/fleet.svg`, `docs/refresh_latency.svg`).
//!
//! ```text
//! cargo bench && cargo run -p bench-plots
//! ```

use plotters::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One chart as a bench wrote it.
struct Chart {
    svg: PathBuf,
    title: String,
    x_label: String,
    y_label: String,
    log_y: bool,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let results = root.join("target/bench-results");
    let Ok(listing) = std::fs::read_dir(&results) else {
        eprintln!(
            "bench-plots: no {} (run `cargo bench` first)",
            results.display()
        );
        return ExitCode::FAILURE;
    };
    let mut drawn = 0;
    for path in listing.flatten().map(|entry| entry.path()) {
        if !path.to_string_lossy().ends_with(".series.json") {
            continue;
        }
        match read_chart(&root, &path).and_then(|chart| draw(&chart).map(|()| chart)) {
            Ok(chart) => {
                println!("wrote {}", chart.svg.display());
                drawn += 1;
            }
            Err(problem) => {
                eprintln!("bench-plots: {}: {problem}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if drawn == 0 {
        eprintln!(
            "bench-plots: no series in {} (run `cargo bench` first)",
            results.display()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn read_chart(root: &Path, path: &Path) -> Result<Chart, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let text_of = |key: &str| {
        value[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no {key:?}"))
    };
    let series = value["series"]
        .as_array()
        .ok_or("no \"series\"")?
        .iter()
        .map(|one| {
            let points = one["points"]
                .as_array()
                .ok_or("a series without \"points\"")?
                .iter()
                .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect::<Option<Vec<_>>>()
                .ok_or("a point that is not [x, y]")?;
            Ok((one["label"].as_str().unwrap_or_default().to_owned(), points))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Chart {
        svg: root.join(text_of("svg")?),
        title: text_of("title")?,
        x_label: text_of("x_label")?,
        y_label: text_of("y_label")?,
        log_y: value["log_y"].as_bool().unwrap_or(false),
        series,
    })
}

/// The charts of the README: points on a log scale, lines on a linear one.
fn draw(chart: &Chart) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| e.to_string();
    let points = || chart.series.iter().flat_map(|(_, s)| s.iter());
    let x_max = points().map(|p| p.0).fold(1.0f64, f64::max);
    let y_max = points().map(|p| p.1).fold(1e-3f64, f64::max);
    let y_min = points()
        .map(|p| p.1)
        .filter(|y| *y > 0.0)
        .fold(y_max, f64::min);
    let root = SVGBackend::new(&chart.svg, (900, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&chart.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60);
    if chart.log_y {
        let mut plot = builder
            .build_cartesian_2d(0f64..x_max, (y_min.max(1e-4)..y_max * 2.0).log_scale())
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .draw()
            .map_err(|e| failed(&e))?;
        for (i, (label, series)) in chart.series.iter().enumerate() {
            let color = colors[i % colors.len()];
            plot.draw_series(
                series
                    .iter()
                    .map(|p| Circle::new((p.0, p.1.max(1e-4)), 1, color.filled())),
            )
            .map_err(|e| failed(&e))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
        }
        plot.configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(|e| failed(&e))?;
    } else {
        let mut plot = builder
            .build_cartesian_2d(0f64..x_max, 0f64..y_max * 1.1)
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .draw()
            .map_err(|e| failed(&e))?;
        for (i, (label, series)) in chart.series.iter().enumerate() {
            let color = colors[i % colors.len()];
            plot.draw_series(LineSeries::new(
                series.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| failed(&e))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
        }
        plot.configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(|e| failed(&e))?;
    }
    root.present().map_err(|e| failed(&e))
}
