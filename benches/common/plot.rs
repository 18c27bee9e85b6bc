//! A line chart written as a PNG with no dependencies: a 16-colour indexed canvas, lines,
//! markers and a built-in 5x7 bitmap font (upper case, digits and some punctuation; lower
//! case is drawn as upper case), encoded as a PNG whose zlib stream uses stored (uncompressed)
//! deflate blocks. At 4 bits per pixel a 960x600 chart is about 290 KB.
//!
//! Only what `benches/compare.rs` needs: one chart, a log-scale x axis, a linear y axis from 0.

/// Palette indices (see [`PALETTE`]).
pub const WHITE: u8 = 0;
pub const BLACK: u8 = 1;
pub const GRID: u8 = 2;
pub const GRAY: u8 = 3;
pub const BLUE: u8 = 4;
pub const RED: u8 = 5;

const PALETTE: [[u8; 3]; 6] = [
    [255, 255, 255],
    [0, 0, 0],
    [225, 225, 225],
    [110, 110, 110],
    [31, 90, 200],
    [210, 40, 40],
];

/// How a series' points are drawn.
#[derive(Clone, Copy)]
pub enum Marker {
    Square,
    Diamond,
    Cross,
}

pub struct Series {
    pub name: String,
    pub color: u8,
    pub marker: Marker,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const WIDTH: i32 = 960;
const HEIGHT: i32 = 600;
const LEFT: i32 = 100;
const RIGHT: i32 = 30;
const TOP: i32 = 70;
const BOTTOM: i32 = 70;
/// Font scale: each font pixel is a 2x2 block.
const SCALE: i32 = 2;

/// Renders `chart` (x on a log10 scale, y linear from 0) as PNG bytes.
pub fn render(chart: &Chart) -> Vec<u8> {
    let mut c = Canvas::new(WIDTH, HEIGHT);
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_max) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in points {
        x_min = x_min.min(x.log10());
        x_max = x_max.max(x.log10());
        y_max = y_max.max(y);
    }
    if x_min > x_max {
        (x_min, x_max, y_max) = (0.0, 1.0, 1.0);
    }
    let (x_lo, x_hi) = (x_min - 0.15, x_max + 0.15);
    let step = nice_step(y_max * 1.1 / 6.0);
    let y_hi = (y_max * 1.1 / step).ceil() * step;
    let (px0, px1, py0, py1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let sx = |x: f64| px0 + ((x.log10() - x_lo) / (x_hi - x_lo) * f64::from(px1 - px0)) as i32;
    let sy = |y: f64| py0 - (y / y_hi * f64::from(py0 - py1)) as i32;

    // Grid and ticks.
    let mut y = 0.0;
    while y <= y_hi + step / 2.0 {
        let py = sy(y);
        c.line(px0, py, px1, py, GRID, 1);
        c.line(px0 - 5, py, px0, py, BLACK, 1);
        let label = format!("{y:.0}");
        c.text(px0 - 10 - text_width(&label), py - 7, &label, BLACK);
        y += step;
    }
    let mut decade = x_lo.ceil() as i32;
    while f64::from(decade) <= x_hi {
        let x = 10f64.powi(decade);
        let px = sx(x);
        c.line(px, py0, px, py1, GRID, 1);
        c.line(px, py0, px, py0 + 5, BLACK, 1);
        let label = format!("{x:.0}");
        c.text(px - text_width(&label) / 2, py0 + 12, &label, BLACK);
        decade += 1;
    }
    c.line(px0, py0, px1, py0, BLACK, 1);
    c.line(px0, py0, px0, py1, BLACK, 1);

    // Titles and axis labels.
    c.text(
        (WIDTH - text_width(&chart.title)) / 2,
        14,
        &chart.title,
        BLACK,
    );
    c.text(
        (WIDTH - text_width(&chart.subtitle)) / 2,
        38,
        &chart.subtitle,
        GRAY,
    );
    let xl = &chart.x_label;
    c.text((px0 + px1 - text_width(xl)) / 2, HEIGHT - 28, xl, BLACK);
    let yl = &chart.y_label;
    c.text_up(18, (py0 + py1 + text_width(yl)) / 2, yl, BLACK);

    // Series, then the legend (top right, over the grid).
    for s in &chart.series {
        let mut pts: Vec<(i32, i32)> = s.points.iter().map(|&(x, y)| (sx(x), sy(y))).collect();
        pts.sort_unstable();
        for w in pts.windows(2) {
            c.line(w[0].0, w[0].1, w[1].0, w[1].1, s.color, 2);
        }
        for &(x, y) in &pts {
            c.marker(x, y, s.marker, s.color);
        }
    }
    let legend_w = chart
        .series
        .iter()
        .map(|s| text_width(&s.name))
        .max()
        .unwrap_or(0)
        + 50;
    let (lx, mut ly) = (px1 - legend_w - 10, py1 + 10);
    c.fill(lx, ly, legend_w, 24 * chart.series.len() as i32 + 8, WHITE);
    for s in &chart.series {
        c.line(lx + 6, ly + 14, lx + 34, ly + 14, s.color, 2);
        c.marker(lx + 20, ly + 14, s.marker, s.color);
        c.text(lx + 42, ly + 7, &s.name, BLACK);
        ly += 24;
    }
    c.png()
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

fn text_width(s: &str) -> i32 {
    (s.chars().count() as i32 * 6 - 1).max(0) * SCALE
}

struct Canvas {
    w: i32,
    h: i32,
    /// One palette index per pixel, row by row.
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: i32, h: i32) -> Self {
        Canvas {
            w,
            h,
            px: vec![WHITE; (w * h) as usize],
        }
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if (0..self.w).contains(&x) && (0..self.h).contains(&y) {
            self.px[(y * self.w + x) as usize] = color;
        }
    }

    fn fill(&mut self, x: i32, y: i32, w: i32, h: i32, color: u8) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, color);
            }
        }
    }

    /// Bresenham, each point stamped as a `thick` x `thick` square.
    fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, color: u8, thick: i32) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (step_x, step_y) = ((x1 - x0).signum(), (y1 - y0).signum());
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.fill(x - thick / 2, y - thick / 2, thick, thick, color);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += step_x;
            }
            if e2 <= dx {
                err += dx;
                y += step_y;
            }
        }
    }

    fn marker(&mut self, x: i32, y: i32, marker: Marker, color: u8) {
        const R: i32 = 5;
        for dy in -R..=R {
            for dx in -R..=R {
                let on = match marker {
                    Marker::Square => dx.abs() < R && dy.abs() < R,
                    Marker::Diamond => dx.abs() + dy.abs() <= R,
                    Marker::Cross => (dx.abs() - dy.abs()).abs() <= 1,
                };
                if on {
                    self.set(x + dx, y + dy, color);
                }
            }
        }
    }

    /// Left to right, `(x, y)` the top left corner.
    fn text(&mut self, x: i32, y: i32, s: &str, color: u8) {
        self.glyphs(s, color, |i, col, row| {
            (x + (i * 6 + col) * SCALE, y + row * SCALE)
        });
    }

    /// Bottom to top (rotated a quarter turn anticlockwise), `(x, y)` the bottom left corner.
    fn text_up(&mut self, x: i32, y: i32, s: &str, color: u8) {
        self.glyphs(s, color, |i, col, row| {
            (x + row * SCALE, y - (i * 6 + col) * SCALE)
        });
    }

    /// Draws the font pixel `(col, row)` of the `i`th character at `at(i, col, row)`.
    fn glyphs(&mut self, s: &str, color: u8, at: impl Fn(i32, i32, i32) -> (i32, i32)) {
        for (i, ch) in s.chars().enumerate() {
            let rows = glyph(ch);
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let (px, py) = at(i as i32, col, row as i32);
                        self.fill(px, py, SCALE, SCALE, color);
                    }
                }
            }
        }
    }

    /// A PNG: 4-bit indexed colour, filter 0 on every row, zlib with stored blocks.
    fn png(&self) -> Vec<u8> {
        let row_bytes = (self.w as usize).div_ceil(2);
        let mut raw = Vec::with_capacity((row_bytes + 1) * self.h as usize);
        for row in self.px.chunks(self.w as usize) {
            raw.push(0); // filter: none
            for pair in row.chunks(2) {
                raw.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
            }
        }
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&(self.w as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.h as u32).to_be_bytes());
        ihdr.extend_from_slice(&[4, 3, 0, 0, 0]); // bit depth 4, palette, deflate, no interlace
        let plte: Vec<u8> = PALETTE.iter().flatten().copied().collect();

        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"PLTE", &plte);
        chunk(&mut out, b"IDAT", &zlib_stored(&raw));
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01]; // deflate, 32 KiB window, no dictionary; 0x7801 % 31 == 0
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL on the last, BTYPE = 00
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    if blocks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow u32 before the reduction (zlib's NMAX).
    for block in data.chunks(5552) {
        for &byte in block {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), bit by bit: the chart is small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                crc >> 1 ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rows of the 5x7 glyph of `ch`, top first, bit 4 the leftmost pixel.
fn glyph(ch: char) -> [u8; 7] {
    const FONT: &[(char, [u8; 7])] = &[
        (' ', [0, 0, 0, 0, 0, 0, 0]),
        ('0', [14, 17, 19, 21, 25, 17, 14]),
        ('1', [4, 12, 4, 4, 4, 4, 14]),
        ('2', [14, 17, 1, 2, 4, 8, 31]),
        ('3', [31, 2, 4, 2, 1, 17, 14]),
        ('4', [2, 6, 10, 18, 31, 2, 2]),
        ('5', [31, 16, 30, 1, 1, 17, 14]),
        ('6', [6, 8, 16, 30, 17, 17, 14]),
        ('7', [31, 1, 2, 4, 8, 8, 8]),
        ('8', [14, 17, 17, 14, 17, 17, 14]),
        ('9', [14, 17, 17, 15, 1, 2, 12]),
        ('A', [14, 17, 17, 17, 31, 17, 17]),
        ('B', [30, 17, 17, 30, 17, 17, 30]),
        ('C', [14, 17, 16, 16, 16, 17, 14]),
        ('D', [28, 18, 17, 17, 17, 18, 28]),
        ('E', [31, 16, 16, 30, 16, 16, 31]),
        ('F', [31, 16, 16, 30, 16, 16, 16]),
        ('G', [14, 17, 16, 23, 17, 17, 15]),
        ('H', [17, 17, 17, 31, 17, 17, 17]),
        ('I', [14, 4, 4, 4, 4, 4, 14]),
        ('J', [7, 2, 2, 2, 2, 18, 12]),
        ('K', [17, 18, 20, 24, 20, 18, 17]),
        ('L', [16, 16, 16, 16, 16, 16, 31]),
        ('M', [17, 27, 21, 21, 17, 17, 17]),
        ('N', [17, 17, 25, 21, 19, 17, 17]),
        ('O', [14, 17, 17, 17, 17, 17, 14]),
        ('P', [30, 17, 17, 30, 16, 16, 16]),
        ('Q', [14, 17, 17, 17, 21, 18, 13]),
        ('R', [30, 17, 17, 30, 20, 18, 17]),
        ('S', [15, 16, 16, 14, 1, 1, 30]),
        ('T', [31, 4, 4, 4, 4, 4, 4]),
        ('U', [17, 17, 17, 17, 17, 17, 14]),
        ('V', [17, 17, 17, 17, 17, 10, 4]),
        ('W', [17, 17, 17, 21, 21, 21, 10]),
        ('X', [17, 17, 10, 4, 10, 17, 17]),
        ('Y', [17, 17, 17, 10, 4, 4, 4]),
        ('Z', [31, 1, 2, 4, 8, 16, 31]),
        ('.', [0, 0, 0, 0, 0, 12, 12]),
        (',', [0, 0, 0, 0, 12, 4, 8]),
        (':', [0, 12, 12, 0, 12, 12, 0]),
        (';', [0, 12, 12, 0, 12, 4, 8]),
        ('-', [0, 0, 0, 31, 0, 0, 0]),
        ('_', [0, 0, 0, 0, 0, 0, 31]),
        ('+', [0, 4, 4, 31, 4, 4, 0]),
        ('=', [0, 0, 31, 0, 31, 0, 0]),
        ('/', [0, 1, 2, 4, 8, 16, 0]),
        ('^', [4, 10, 17, 0, 0, 0, 0]),
        ('~', [0, 0, 8, 21, 2, 0, 0]),
        ('(', [2, 4, 8, 8, 8, 4, 2]),
        (')', [8, 4, 2, 2, 2, 4, 8]),
        ('%', [24, 25, 2, 4, 8, 19, 3]),
        ('?', [14, 17, 1, 2, 4, 0, 4]),
    ];
    let ch = ch.to_ascii_uppercase();
    FONT.iter()
        .find(|(c, _)| *c == ch)
        .or_else(|| FONT.iter().find(|(c, _)| *c == '?'))
        .map_or([0; 7], |(_, rows)| *rows)
}
