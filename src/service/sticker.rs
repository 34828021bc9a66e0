//! Printable QR stickers (X2, N2): a guide link as a PNG and an SVG, the code with its quiet
//! zone and a label under it (what it opens, in words an operator reads), for
//! `hologuide-server guide link … --out DIR`.

use glyphon::{Attrs, Buffer, Color, Family, Metrics, Shaping, SwashCache};
use thiserror::Error;

/// Pixels per module in the PNG: 10 px at 300 dpi is 0.85 mm, a 50 mm code up to version 10.
const MODULE_PX: u32 = 10;
const QUIET_MODULES: u32 = 4;
const LABEL_PX: f32 = 28.0;
const LABEL_LINE_PX: f32 = 34.0;

#[derive(Debug, Error)]
pub enum StickerError {
    #[error("the link does not fit in a QR code: {0}")]
    Encode(qrcode::types::QrError),
    #[error("encoding the sticker's PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// A sticker, ready to write.
pub struct StickerFiles {
    pub png: Vec<u8>,
    pub svg: String,
    /// Modules per side, without the quiet zone.
    pub modules: usize,
}

/// `payload` as a QR code (error correction M) with `label` under it.
pub fn sticker(payload: &str, label: &str) -> Result<StickerFiles, StickerError> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(StickerError::Encode)?;
    let n = code.width();
    let dark: Vec<bool> = code
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    Ok(StickerFiles {
        png: png(&dark, n, label)?,
        svg: svg(&dark, n, label),
        modules: n,
    })
}

fn png(dark: &[bool], n: usize, label: &str) -> Result<Vec<u8>, StickerError> {
    let side = (n as u32 + 2 * QUIET_MODULES) * MODULE_PX;
    let label_height = (LABEL_LINE_PX * 2.0) as u32 + MODULE_PX * 2;
    let mut image = image::GrayImage::from_pixel(side, side + label_height, image::Luma([255]));
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (x0, y0) = (
            (i % n) as u32 + QUIET_MODULES,
            (i / n) as u32 + QUIET_MODULES,
        );
        for y in y0 * MODULE_PX..(y0 + 1) * MODULE_PX {
            for x in x0 * MODULE_PX..(x0 + 1) * MODULE_PX {
                image.put_pixel(x, y, image::Luma([0]));
            }
        }
    }
    // The label, centred, wrapped to the code's width, under the quiet zone's last rows.
    let mut fonts = crate::render::panels::font_system();
    let mut buffer = Buffer::new(&mut fonts, Metrics::new(LABEL_PX, LABEL_LINE_PX));
    buffer.set_size(
        Some(side as f32 - 2.0 * MODULE_PX as f32),
        Some(LABEL_LINE_PX * 2.0),
    );
    buffer.set_text(
        label,
        &Attrs::new().family(Family::SansSerif),
        Shaping::Advanced,
        None,
    );
    for line in buffer.lines.iter_mut() {
        line.set_align(Some(glyphon::cosmic_text::Align::Center));
    }
    buffer.shape_until_scroll(&mut fonts, false);
    let mut swash = SwashCache::new();
    let (left, top) = (MODULE_PX as i32, (side - MODULE_PX * 2) as i32);
    buffer.draw(
        &mut fonts,
        &mut swash,
        Color::rgb(0, 0, 0),
        |x, y, w, h, color| {
            let coverage = u32::from(color.a());
            for dy in 0..h as i32 {
                for dx in 0..w as i32 {
                    let (px, py) = (left + x + dx, top + y + dy);
                    if px < 0 || py < 0 || px as u32 >= image.width() || py as u32 >= image.height()
                    {
                        continue;
                    }
                    let pixel = image.get_pixel_mut(px as u32, py as u32);
                    let under = u32::from(pixel.0[0]);
                    pixel.0[0] = (under * (255 - coverage) / 255) as u8;
                }
            }
        },
    );
    let mut bytes = Vec::new();
    image.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    Ok(bytes)
}

fn svg(dark: &[bool], n: usize, label: &str) -> String {
    let side = n + 2 * QUIET_MODULES as usize;
    let label_rows = 6;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {}\" \
         shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<path d=\"",
        side + label_rows
    );
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (x, y) = (
            i % n + QUIET_MODULES as usize,
            i / n + QUIET_MODULES as usize,
        );
        out.push_str(&format!("M{x} {y}h1v1h-1z"));
    }
    out.push_str(&format!(
        "\" fill=\"#000\"/>\n<text x=\"{}\" y=\"{}\" font-family=\"Inter, sans-serif\" \
         font-size=\"2.8\" text-anchor=\"middle\">{}</text>\n</svg>\n",
        side as f32 / 2.0,
        side + 2,
        xml_escape(label)
    ));
    out
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sticker_is_a_code_that_reads_back_with_its_label_under_it() {
        let link = "hologuide://acme/g/3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10/s/3?anchor=front";
        let files = sticker(link, "Pump P-7 <front> — step 3").expect("a sticker");
        let image = image::load_from_memory(&files.png)
            .expect("a PNG")
            .to_luma8();
        let frame = crate::qr::GrayFrame::new(
            image.as_raw(),
            image.width() as usize,
            image.height() as usize,
            image.width() as usize,
        )
        .expect("a frame");
        let codes = crate::qr::decode(&frame);
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].text, link);
        // The label is drawn: dark pixels under the code.
        let side = (files.modules as u32 + 8) * MODULE_PX;
        let inked = (side..image.height())
            .flat_map(|y| (0..image.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| image.get_pixel(x, y).0[0] < 128)
            .count();
        assert!(inked > 200, "{inked} dark label pixels");
        assert!(files.svg.contains("Pump P-7 &lt;front&gt; — step 3"));
        assert!(files.svg.starts_with("<svg"));
    }
}
