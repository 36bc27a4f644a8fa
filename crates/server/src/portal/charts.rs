//! The overview's charts, drawn here as SVG (no script, no image requests): certificates
//! issued per day, and validation failures by cause. Each chart has a title and a text
//! description for screen readers, and every bar a tooltip with its exact value.

use std::fmt::Write;

use super::html::esc;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 180;
/// Room on the left for the value axis and at the bottom for the labels.
const LEFT: u32 = 36;
const BOTTOM: u32 = 24;

/// Vertical bars: one per `(label, value)`, left to right; a label is written under every
/// `label_every`th bar. `id` names the chart's title and description for `aria-labelledby`.
pub(super) fn columns(id: &str, title: &str, bars: &[(String, u64)], label_every: usize) -> String {
    let highest = bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let max = highest.max(1);
    let total: u64 = bars.iter().map(|(_, v)| v).sum();
    let plot_h = HEIGHT - BOTTOM - 8;
    let slot = (WIDTH - LEFT) / u32::try_from(bars.len().max(1)).unwrap_or(u32::MAX).max(1);
    let bar_w = slot.saturating_sub(2).max(1);
    let mut svg = header(
        id,
        title,
        &format!("{total} in all; the highest bar is {highest}."),
    );
    axis(&mut svg, max, plot_h);
    for (i, (label, value)) in bars.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let h = scaled(*value, max, plot_h);
        let x = LEFT + i * slot + 1;
        let y = 8 + plot_h - h;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{bar_w}\" height=\"{h}\"><title>{}: {value}</title></rect>",
            esc(label)
        );
        if label_every > 0 && (i as usize).is_multiple_of(label_every) {
            let _ = write!(
                svg,
                "<text class=\"label\" x=\"{x}\" y=\"{}\">{}</text>",
                HEIGHT - 6,
                esc(label)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Horizontal bars: one row per `(label, value)`, top to bottom, the label on the bar's left.
pub(super) fn rows(id: &str, title: &str, bars: &[(String, u64)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let total: u64 = bars.iter().map(|(_, v)| v).sum();
    let row_h = 22u32;
    let label_w = 200u32;
    let height = (u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1) * row_h + 8).min(2000);
    let summary = if bars.is_empty() {
        "None.".to_owned()
    } else {
        let parts: Vec<String> = bars.iter().map(|(l, v)| format!("{l}: {v}")).collect();
        format!("{total} in all. {}.", parts.join("; "))
    };
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(&summary)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 4 + u32::try_from(i).unwrap_or(u32::MAX) * row_h;
        let w = scaled(*value, max, WIDTH - label_w - 60);
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar failure\" x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\"><title>{}: {value}</title></rect>\
             <text class=\"value\" x=\"{}\" y=\"{}\">{value}</text>",
            label_w - 6,
            y + 15,
            esc(label),
            row_h - 6,
            esc(label),
            label_w + w + 4,
            y + 15
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn header(id: &str, title: &str, desc: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(desc)
    )
}

/// The value axis: a baseline and the maximum written at the top.
fn axis(svg: &mut String, max: u64, plot_h: u32) {
    let base = 8 + plot_h;
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\"/>\
         <text class=\"label\" x=\"{}\" y=\"16\" text-anchor=\"end\">{max}</text>\
         <text class=\"label\" x=\"{}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        LEFT - 4,
        LEFT - 4
    );
}

/// `value` of `max` as a length of `full` (at least 1 for a value above 0, so it shows).
fn scaled(value: u64, max: u64, full: u32) -> u32 {
    if value == 0 {
        return 0;
    }
    let len = u128::from(value) * u128::from(full) / u128::from(max.max(1));
    u32::try_from(len).unwrap_or(full).clamp(1, full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_as_tall_as_their_share_of_the_highest() {
        let svg = columns(
            "c",
            "Issued",
            &[("a".into(), 2), ("b".into(), 4), ("c<".into(), 0)],
            1,
        );
        assert!(svg.contains("<title id=\"c-title\">Issued</title>"));
        assert!(svg.contains("6 in all; the highest bar is 4."));
        let plot_h = HEIGHT - BOTTOM - 8;
        assert!(svg.contains(&format!("height=\"{}\"><title>a: 2</title>", plot_h / 2)));
        assert!(svg.contains(&format!("height=\"{plot_h}\"><title>b: 4</title>")));
        assert!(svg.contains("height=\"0\"><title>c&lt;: 0</title>"));
    }

    #[test]
    fn rows_say_every_value_in_their_description() {
        let svg = rows(
            "f",
            "Failures",
            &[("dns".into(), 3), ("connection".into(), 1)],
        );
        assert!(svg.contains("4 in all. dns: 3; connection: 1."));
        assert!(rows("f", "Failures", &[]).contains("None."));
    }
}
