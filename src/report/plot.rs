//! Figures: plain data ([`Figure`]) and plotters drawing functions from that data to PNG,
//! SVG or an in-memory RGB buffer. Drawing never computes a statistic: every number drawn
//! comes from the statistics layer through [`super::figures`]; only axis ranges and
//! layout are worked out here.
//!
//! Text uses the bundled DejaVu Sans (`assets/fonts/`), registered with plotters as
//! `sans-serif`, so figures look the same on every machine and need no system fonts.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// One error bar: x, lower and upper end on the y scale.
type ErrorBar = (f64, f64, f64);

/// The bundled font (DejaVu Sans 2.37; licence in `assets/fonts/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Why a figure could not be drawn or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlotError {
    /// The bundled font did not load.
    #[error("the bundled DejaVuSans.ttf is not a valid font")]
    Font,
    /// The drawing backend failed.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// A file or folder could not be written.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
}

impl PlotError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        PlotError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Registers the bundled font once.
pub fn ensure_font() -> Result<(), PlotError> {
    static DONE: OnceLock<Result<(), PlotError>> = OnceLock::new();
    DONE.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).map_err(|_| PlotError::Font))
        .clone()
}

/// A colour role; the drawing maps it to a palette colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// The n-th series colour (Tableau 10, cycling).
    Series(usize),
    /// Significantly better (green).
    Better,
    /// Significantly worse (red).
    Worse,
    /// Neutral (grey), e.g. not significant.
    Neutral,
    /// Black.
    Ink,
}

const TAB10: [(u8, u8, u8); 10] = [
    (78, 121, 167),
    (242, 142, 43),
    (225, 87, 89),
    (118, 183, 178),
    (89, 161, 79),
    (237, 201, 72),
    (176, 122, 161),
    (255, 157, 167),
    (156, 117, 95),
    (186, 176, 172),
];

impl Colour {
    fn rgb(self) -> RGBColor {
        let (r, g, b) = match self {
            Colour::Series(i) => TAB10[i % TAB10.len()],
            Colour::Better => (89, 161, 79),
            Colour::Worse => (225, 87, 89),
            Colour::Neutral => (160, 160, 160),
            Colour::Ink => (0, 0, 0),
        };
        RGBColor(r, g, b)
    }
}

/// One horizontal bar with an optional interval (error bar).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label drawn left of the bar.
    pub label: String,
    /// Bar end.
    pub value: f64,
    /// Interval drawn as an error bar.
    pub interval: Option<(f64, f64)>,
    /// Fill colour.
    pub colour: Colour,
}

/// A panel of horizontal bars.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPanel {
    /// Panel title.
    pub title: String,
    /// x-axis description.
    pub x_label: String,
    /// Bars, drawn top to bottom.
    pub bars: Vec<Bar>,
    /// Bars start at 0 and a vertical line marks 0 (for differences); otherwise bars
    /// start at the left edge of a range zoomed onto the values.
    pub from_zero: bool,
}

/// A line of a [`LinePanel`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name (for the legend; the figure's legend lists what to show).
    pub label: String,
    /// Colour.
    pub colour: Colour,
    /// Dashed instead of solid.
    pub dashed: bool,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Error bars `(low, high)`, one per point (empty: none).
    pub intervals: Vec<(f64, f64)>,
}

/// A panel of lines.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// x-axis description.
    pub x_label: String,
    /// y-axis description.
    pub y_label: String,
    /// Logarithmic y axis (non-positive values are not drawn).
    pub log_y: bool,
    /// Lines.
    pub series: Vec<Series>,
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendKind {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// A filled box.
    Box,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// Text.
    pub label: String,
    /// Colour.
    pub colour: Colour,
    /// Sample drawn before the text.
    pub kind: LegendKind,
}

/// The panels of a figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Panels {
    /// Bar panels.
    Bars(Vec<BarPanel>),
    /// Line panels.
    Lines(Vec<LinePanel>),
}

/// A figure: a title, a legend strip and a grid of panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File stem (`figures/<name>.png`, `.svg`).
    pub name: String,
    /// Title drawn at the top.
    pub title: String,
    /// Panels per row.
    pub columns: usize,
    /// Legend entries (may be empty).
    pub legend: Vec<LegendEntry>,
    /// Panels.
    pub panels: Panels,
}

const TITLE_H: u32 = 40;
const LEGEND_ROW_H: u32 = 22;
const BAR_PANEL_W: u32 = 460;
const BAR_ROW_H: u32 = 24;
const LINE_PANEL_W: u32 = 480;
const LINE_PANEL_H: u32 = 330;

impl Figure {
    fn n_panels(&self) -> usize {
        match &self.panels {
            Panels::Bars(p) => p.len(),
            Panels::Lines(p) => p.len(),
        }
    }

    fn columns_used(&self) -> u32 {
        self.columns.clamp(1, self.n_panels().max(1)) as u32
    }

    fn panel_size(&self) -> (u32, u32) {
        match &self.panels {
            Panels::Bars(p) => {
                let most = p.iter().map(|b| b.bars.len()).max().unwrap_or(1).max(1) as u32;
                (BAR_PANEL_W, 90 + BAR_ROW_H * most)
            }
            Panels::Lines(_) => (LINE_PANEL_W, LINE_PANEL_H),
        }
    }

    /// Width of one legend entry: the sample, then room for the longest label
    /// (8 px per character at 13 px, at most 30 characters).
    fn legend_cell_w(&self) -> u32 {
        let chars = self
            .legend
            .iter()
            .map(|e| e.label.chars().count().min(30))
            .max()
            .unwrap_or(0) as u32;
        56 + 8 * chars
    }

    fn legend_per_row(&self) -> u32 {
        (self.columns_used() * self.panel_size().0 / self.legend_cell_w()).max(1)
    }

    fn legend_h(&self) -> u32 {
        if self.legend.is_empty() {
            0
        } else {
            let rows = (self.legend.len() as u32).div_ceil(self.legend_per_row());
            rows * LEGEND_ROW_H + 8
        }
    }

    /// Size in pixels: `columns × panel width` by `title + legend + rows × panel height`.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.columns_used();
        let rows = (self.n_panels().max(1) as u32).div_ceil(cols);
        let (pw, ph) = self.panel_size();
        (cols * pw, TITLE_H + self.legend_h() + rows * ph)
    }
}

fn err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn style(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

/// Draws `fig` on a drawing area of `fig.size()`.
///
/// # Errors
/// The backend's error, in words.
pub fn draw<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError> {
    ensure_font()?;
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = fig.size();
    let (title, rest) = root.split_vertically(TITLE_H);
    title
        .draw(&Text::new(
            fig.title.clone(),
            ((w / 2) as i32, 10),
            style(20).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
    let (legend, body) = rest.split_vertically(fig.legend_h());
    draw_legend(
        &legend,
        &fig.legend,
        fig.legend_per_row(),
        fig.legend_cell_w(),
    )?;
    let cols = fig.columns_used() as usize;
    let rows = fig.n_panels().max(1).div_ceil(cols);
    let areas = body.split_evenly((rows, cols));
    match &fig.panels {
        Panels::Bars(ps) => {
            for (p, a) in ps.iter().zip(&areas) {
                draw_bar_panel(a, p)?;
            }
        }
        Panels::Lines(ps) => {
            for (p, a) in ps.iter().zip(&areas) {
                draw_line_panel(a, p)?;
            }
        }
    }
    root.present().map_err(err)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    per_row: u32,
    cell_w: u32,
) -> Result<(), PlotError> {
    for (i, e) in entries.iter().enumerate() {
        let i = i as u32;
        let x = 16 + (i % per_row * cell_w) as i32;
        let y = (i / per_row * LEGEND_ROW_H + LEGEND_ROW_H / 2) as i32;
        let c = e.colour.rgb();
        match e.kind {
            LegendKind::Line => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 26, y)],
                    c.stroke_width(3),
                ))
                .map_err(err)?,
            LegendKind::Dashed => {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + k * 10, y), (x + k * 10 + 6, y)],
                        c.stroke_width(3),
                    ))
                    .map_err(err)?;
                }
            }
            LegendKind::Box => area
                .draw(&Rectangle::new(
                    [(x + 4, y - 7), (x + 22, y + 7)],
                    c.filled(),
                ))
                .map_err(err)?,
        }
        area.draw(&Text::new(
            truncate(&e.label, 30),
            (x + 34, y),
            style(13).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Decimals for tick labels over a range of width `span`.
fn tick_digits(span: f64) -> usize {
    if !(span.is_finite() && span > 0.0) {
        return 2;
    }
    ((-span.log10()).ceil() + 1.0).clamp(0.0, 6.0) as usize
}

/// A tick label with `digits` decimals, without a negative zero.
fn tick(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = hi - lo;
    let span = if span > 0.0 {
        span
    } else if hi != 0.0 {
        hi.abs() * 0.1
    } else {
        1.0
    };
    (lo - frac * span, hi + frac * span)
}

fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        format!("{title}: no data"),
        ((w / 2) as i32, (h / 2) as i32),
        style(14).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(err)
}

fn draw_bar_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &BarPanel,
) -> Result<(), PlotError> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for b in &p.bars {
        for x in [
            Some(b.value),
            b.interval.map(|i| i.0),
            b.interval.map(|i| i.1),
        ]
        .into_iter()
        .flatten()
        .filter(|x| x.is_finite())
        {
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return no_data(area, &p.title);
    }
    if p.from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let (x0, x1) = padded(lo, hi, 0.08);
    let base = if p.from_zero { 0.0 } else { x0 };
    let n = p.bars.len().max(1);
    let label_style = style(13);
    let labels: Vec<String> = p.bars.iter().map(|b| truncate(&b.label, 28)).collect();
    let label_w = labels
        .iter()
        .filter_map(|l| area.estimate_text_size(l, &label_style).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(40)
        + 14;
    let digits = tick_digits(x1 - x0);
    let fmt = move |v: &f64| tick(*v, digits);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 15))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x0..x1, 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(5)
        .x_label_formatter(&fmt)
        .x_desc(p.x_label.as_str())
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    let row = |i: usize| (n - 1 - i) as f64;
    chart
        .draw_series(
            p.bars
                .iter()
                .enumerate()
                .filter(|(_, b)| b.value.is_finite())
                .map(|(i, b)| {
                    Rectangle::new(
                        [(base, row(i) + 0.15), (b.value, row(i) + 0.85)],
                        b.colour.rgb().filled(),
                    )
                }),
        )
        .map_err(err)?;
    for (i, b) in p.bars.iter().enumerate() {
        if let Some((l, h)) = b.interval.filter(|(l, h)| l.is_finite() && h.is_finite()) {
            let y = row(i) + 0.5;
            let ink = BLACK.stroke_width(2);
            chart
                .draw_series([
                    PathElement::new(vec![(l, y), (h, y)], ink),
                    PathElement::new(vec![(l, y - 0.2), (l, y + 0.2)], ink),
                    PathElement::new(vec![(h, y - 0.2), (h, y + 0.2)], ink),
                ])
                .map_err(err)?;
        }
    }
    if p.from_zero {
        chart
            .draw_series([PathElement::new(
                vec![(0.0, 0.0), (0.0, n as f64)],
                BLACK.stroke_width(1),
            )])
            .map_err(err)?;
    }
    let (bx, by) = area.get_base_pixel();
    for (i, l) in labels.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(x0, row(i) + 0.5));
        area.draw(&Text::new(
            l.clone(),
            (px - bx - 6, py - by),
            label_style.pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn draw_line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel,
) -> Result<(), PlotError> {
    let tf = |y: f64| {
        if p.log_y {
            (y > 0.0).then(|| y.log10())
        } else {
            y.is_finite().then_some(y)
        }
    };
    let lines: Vec<(&Series, Vec<(f64, f64)>)> = p
        .series
        .iter()
        .map(|s| {
            let pts = s
                .points
                .iter()
                .filter(|(x, _)| x.is_finite())
                .filter_map(|&(x, y)| tf(y).map(|y| (x, y)))
                .collect();
            (s, pts)
        })
        .collect();
    // Error bars, where every part is drawable on the y scale.
    let bars: Vec<(&Series, Vec<ErrorBar>)> = p
        .series
        .iter()
        .map(|s| {
            let b = s
                .points
                .iter()
                .zip(&s.intervals)
                .filter(|((x, _), _)| x.is_finite())
                .filter_map(|(&(x, _), &(lo, hi))| Some((x, tf(lo)?, tf(hi)?)))
                .collect();
            (s, b)
        })
        .collect();
    let ends: Vec<(f64, f64)> = bars
        .iter()
        .flat_map(|(_, b)| b.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
        .collect();
    let all = lines.iter().flat_map(|(_, p)| p.iter()).chain(ends.iter());
    let (mut xl, mut xh, mut yl, mut yh) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        xl = xl.min(x);
        xh = xh.max(x);
        yl = yl.min(y);
        yh = yh.max(y);
    }
    if !(xl.is_finite() && yl.is_finite()) {
        return no_data(area, &p.title);
    }
    let (x0, x1) = if xh <= xl {
        padded(xl, xh, 0.5)
    } else if ends.is_empty() {
        (xl, xh)
    } else {
        // room for the error bars' caps at the ends
        padded(xl, xh, 0.04)
    };
    let (y0, y1) = padded(yl, yh, 0.06);
    let xd = if x1 - x0 >= 5.0 {
        0
    } else {
        tick_digits(x1 - x0)
    };
    let yd = tick_digits(y1 - y0);
    let log_y = p.log_y;
    let xfmt = move |v: &f64| tick(*v, xd);
    let yfmt = move |v: &f64| {
        if log_y {
            format!("{:.1e}", 10f64.powf(*v))
        } else {
            tick(*v, yd)
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 15))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 12))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for (s, pts) in &lines {
        let st = s.colour.rgb().stroke_width(2);
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 7, 5, st))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), st))
                .map_err(err)?;
        }
        if pts.len() <= 40 {
            chart
                .draw_series(
                    pts.iter()
                        .map(|&pt| Circle::new(pt, 3, s.colour.rgb().filled())),
                )
                .map_err(err)?;
        }
    }
    let cap = 0.012 * (x1 - x0);
    for (s, b) in &bars {
        let st = s.colour.rgb().stroke_width(1);
        for &(x, lo, hi) in b {
            for seg in [
                vec![(x, lo), (x, hi)],
                vec![(x - cap, lo), (x + cap, lo)],
                vec![(x - cap, hi), (x + cap, hi)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(seg, st)))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// Renders `fig` into an RGB buffer (3 bytes per pixel, row-major, `fig.size()`).
///
/// # Errors
/// A drawing error, in words.
pub fn render_rgb(fig: &Figure) -> Result<Vec<u8>, PlotError> {
    let (w, h) = fig.size();
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(fig, &root)?;
    }
    Ok(buf)
}

/// Renders `fig` as an SVG document.
///
/// # Errors
/// A drawing error, in words.
pub fn render_svg(fig: &Figure) -> Result<String, PlotError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, fig.size()).into_drawing_area();
        draw(fig, &root)?;
    }
    Ok(s)
}

/// Writes `fig` as a PNG at `path`, atomically (a temporary file renamed into place).
///
/// # Errors
/// A drawing or file error, in words.
pub fn write_png(fig: &Figure, path: &Path) -> Result<(), PlotError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| PlotError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The encoder picks the format from the extension: keep `.png` last.
    let tmp = dir.join(format!(".{name}.tmp{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, fig.size()).into_drawing_area();
        draw(fig, &root)?;
    }
    std::fs::rename(&tmp, path).map_err(|e| PlotError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Figure {
        Figure {
            name: "t".into(),
            title: "Test".into(),
            columns: 2,
            legend: vec![LegendEntry {
                label: "a".into(),
                colour: Colour::Series(0),
                kind: LegendKind::Box,
            }],
            panels: Panels::Bars(vec![BarPanel {
                title: "p".into(),
                x_label: "x".into(),
                bars: vec![
                    Bar {
                        label: "a".into(),
                        value: 0.7,
                        interval: Some((0.65, 0.75)),
                        colour: Colour::Series(0),
                    },
                    Bar {
                        label: "b".into(),
                        value: 0.6,
                        interval: None,
                        colour: Colour::Series(1),
                    },
                ],
                from_zero: false,
            }]),
        }
    }

    #[test]
    fn size_follows_the_layout() {
        // One panel: one column of 460 px; 40 title + 30 legend + 90 + 2 × 24 panel.
        assert_eq!(bars().size(), (460, 40 + 30 + 90 + 48));
    }

    #[test]
    fn renders_something() {
        let f = bars();
        let rgb = render_rgb(&f).unwrap();
        let non_white = rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(non_white > 1000, "{non_white}");
        let svg = render_svg(&f).unwrap();
        assert!(svg.contains("<svg") && svg.contains("Test"));
    }

    #[test]
    fn tick_digits_follow_the_span() {
        assert_eq!(tick_digits(0.01), 3);
        assert_eq!(tick_digits(0.5), 2);
        assert_eq!(tick_digits(5.0), 1);
        assert_eq!(tick_digits(50.0), 0);
    }
}
