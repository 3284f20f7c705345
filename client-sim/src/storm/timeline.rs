//! A storm as a picture: how many machines are in each stage over virtual time, as a stacked
//! area chart in SVG (a browser shows it; people would rather look at that than read tables).
//! A machine is "off" until power-on, in "POST" until its firmware starts the network, then
//! working towards each step of its transcript in turn, then "booted" or "failed".

use std::fmt::Write as _;

use netbootd::time::Instant;

use crate::transcript::Transcript;

/// Columns sampled across the storm.
const SAMPLES: usize = 400;
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;
/// Colours for "off", "POST" and the steps, in stacking order (Tableau 10 without its green
/// and red, which mean "booted" and "failed" only, whatever number of steps came before).
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
];
const BOOTED: &str = "#59a14f";
const FAILED: &str = "#e15759";
/// A legend row's height.
const ROW: f64 = 16.0;

/// Machines per stage at each sample: (stage names in stacking order, `counts[stage][sample]`,
/// seconds per sample).
pub fn occupancy(
    transcripts: &[Transcript],
    schedule: &[(Instant, Instant)],
) -> (Vec<String>, Vec<Vec<u32>>, f64) {
    let end = transcripts
        .iter()
        .zip(schedule)
        .map(|(t, (_, s))| t.elapsed.max(s.since_origin()).as_secs_f64())
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.02;
    let dt = end / SAMPLES as f64;
    let mut names: Vec<String> = vec!["off".into(), "POST".into()];
    // Step stages by step number, so the stack follows the chain's order.
    let mut steps: Vec<(usize, String)> = transcripts
        .iter()
        .flat_map(|t| t.steps.iter().map(|s| (s.number, s.stage().to_string())))
        .collect();
    steps.sort();
    steps.dedup();
    for (_, stage) in steps {
        if !names.contains(&stage) {
            names.push(stage);
        }
    }
    names.extend(["booted".to_string(), "failed".to_string()]);
    let index = |name: &str| names.iter().position(|n| n == name).unwrap_or(0);
    let mut diff = vec![vec![0i64; SAMPLES + 1]; names.len()];
    let column = |t: Instant| ((t.as_secs_f64() / dt).ceil() as usize).min(SAMPLES);
    for (t, (on, start)) in transcripts.iter().zip(schedule) {
        let mut mark = |stage: usize, from: Instant, to: Option<Instant>| {
            let (a, b) = (column(from), to.map_or(SAMPLES, column));
            if a < b {
                diff[stage][a] += 1;
                diff[stage][b] -= 1;
            }
        };
        mark(0, Instant::ZERO, Some(*on));
        mark(1, *on, Some(*start));
        let mut from = *start;
        for s in &t.steps {
            mark(index(&s.stage().to_string()), from, Some(s.at));
            from = s.at;
        }
        let last = if t.booted() { "booted" } else { "failed" };
        mark(index(last), from, None);
    }
    let counts = diff
        .into_iter()
        .map(|d| {
            let mut run = 0i64;
            d[..SAMPLES]
                .iter()
                .map(|x| {
                    run += x;
                    run.max(0) as u32
                })
                .collect()
        })
        .collect();
    (names, counts, dt)
}

/// The chart as an SVG document.
pub fn svg(transcripts: &[Transcript], schedule: &[(Instant, Instant)]) -> String {
    let (names, counts, dt) = occupancy(transcripts, schedule);
    let total = transcripts.len().max(1) as f64;
    let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |i: usize| LEFT + w * i as f64 / (SAMPLES - 1) as f64;
    let y = |n: f64| TOP + h - h * n / total;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"14\">{} machines by stage over virtual time</text>\n",
        transcripts.len()
    );
    let mut below = vec![0f64; SAMPLES];
    // The stages that had a machine at some moment: one colour and one legend row each,
    // the legend listed top down as the bands stack (the last band drawn is the top one).
    let shown: Vec<usize> = (0..names.len())
        .filter(|k| counts[*k].iter().any(|c| *c > 0))
        .collect();
    for (row, &k) in shown.iter().enumerate() {
        let name = &names[k];
        let above: Vec<f64> = below
            .iter()
            .zip(&counts[k])
            .map(|(b, c)| b + f64::from(*c))
            .collect();
        let mut points = String::new();
        for (i, v) in above.iter().enumerate() {
            let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
        }
        for i in (0..SAMPLES).rev() {
            let _ = write!(points, "{:.1},{:.1} ", x(i), y(below[i]));
        }
        let colour = match name.as_str() {
            "booted" => BOOTED,
            "failed" => FAILED,
            _ => PALETTE[row % PALETTE.len()],
        };
        let _ = writeln!(
            out,
            "<polygon points=\"{}\" fill=\"{colour}\"><title>{}</title></polygon>",
            points.trim_end(),
            escape(name)
        );
        let ly = TOP + ROW * (shown.len() - 1 - row) as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            WIDTH - RIGHT + 12.0,
            ly,
            WIDTH - RIGHT + 30.0,
            ly + 10.0,
            escape(name)
        );
        below = above;
    }
    // Axes: seconds along the bottom, machines up the side.
    let end = dt * SAMPLES as f64;
    let step = nice_step(end / 8.0);
    let mut t = 0.0;
    while t <= end {
        let px = LEFT + w * t / end;
        let _ = writeln!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{}\" stroke=\"#888\"/><text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            TOP + h,
            TOP + h + 5.0,
            TOP + h + 18.0,
            trim(t)
        );
        t += step;
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">virtual seconds since the power cut</text>",
        LEFT + w / 2.0,
        HEIGHT - 6.0
    );
    let _ = writeln!(
        out,
        "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">machines</text>",
        TOP + h / 2.0
    );
    for frac in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let n = total * frac;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y(n) + 4.0,
            n.round()
        );
    }
    out.push_str("</svg>\n");
    out
}

fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.max(1e-6).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn trim(t: f64) -> String {
    let s = format!("{t:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
