//! Pictures: the header checked before anything is decoded (a decompression bomb is refused by its
//! declared size), the metadata removed from what is served (EXIF with its GPS position, XMP, text
//! chunks, comments), and a small thumbnail made.
//!
//! Metadata is cut from the container without re-encoding, so the served picture keeps its
//! quality and a GIF its animation. The one exception is a photo whose EXIF says it is rotated:
//! the rotation is applied and the picture re-encoded, since dropping the EXIF would otherwise
//! turn it on its side.
//!
//! Everything here is CPU-bound and synchronous: callers run it on a blocking thread.

use std::io::Cursor;

use bytes::Bytes;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use img_parts::ImageEXIF;

use super::kind::Picture;

/// The longest side of a thumbnail, in pixels (twice the largest preview the page shows, for
/// high-density screens).
pub const THUMB_SIDE: u32 = 480;

/// The side of an avatar, in pixels.
pub const AVATAR_SIDE: u32 = 128;

/// A picture ready to store.
#[derive(Debug)]
pub struct Prepared {
    /// What is served: the upload without its metadata.
    pub bytes: Bytes,
    /// As shown (after any rotation).
    pub width: u32,
    pub height: u32,
    pub thumb: Encoded,
}

/// A picture the server made (a thumbnail or an avatar).
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
}

/// Why a picture was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("the picture is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooLarge { width: u32, height: u32, max: u64 },
    #[error("the picture could not be read")]
    Unreadable,
}

impl From<image::ImageError> for PictureError {
    fn from(_: image::ImageError) -> Self {
        PictureError::Unreadable
    }
}

/// Checks, cleans and thumbnails an uploaded picture of at most `max_pixels` pixels.
pub fn prepare(picture: Picture, bytes: Bytes, max_pixels: u64) -> Result<Prepared, PictureError> {
    let (mut image, orientation) = decode(picture, &bytes, max_pixels)?;
    let bytes = if orientation == Orientation::NoTransforms {
        strip(picture, bytes)?
    } else {
        image.apply_orientation(orientation);
        Bytes::from(reencode(picture, &image)?)
    };
    let thumb = encode_small(&image.thumbnail(THUMB_SIDE, THUMB_SIDE))?;
    Ok(Prepared {
        bytes,
        width: image.width(),
        height: image.height(),
        thumb,
    })
}

/// An avatar from an uploaded picture: the centre square, [`AVATAR_SIDE`] pixels wide.
pub fn avatar(picture: Picture, bytes: &[u8], max_pixels: u64) -> Result<Encoded, PictureError> {
    let (mut image, orientation) = decode(picture, bytes, max_pixels)?;
    image.apply_orientation(orientation);
    let side = image.width().min(image.height());
    let square = image.crop_imm(
        (image.width() - side) / 2,
        (image.height() - side) / 2,
        side,
        side,
    );
    encode_small(&square.resize_exact(
        AVATAR_SIDE,
        AVATAR_SIDE,
        image::imageops::FilterType::Triangle,
    ))
}

/// The first frame, decoded only after the header's size was checked; and its EXIF rotation.
fn decode(
    picture: Picture,
    bytes: &[u8],
    max_pixels: u64,
) -> Result<(DynamicImage, Orientation), PictureError> {
    // From the header alone, before a decoder (which may want more of the file) sees it.
    let declared = imagesize::blob_size(bytes).map_err(|_| PictureError::Unreadable)?;
    let width = u32::try_from(declared.width).unwrap_or(u32::MAX);
    let height = u32::try_from(declared.height).unwrap_or(u32::MAX);
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PictureError::TooLarge {
            width,
            height,
            max: max_pixels,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), picture.format());
    let mut limits = Limits::default();
    // Four bytes a pixel for the frame, and as much again for a decoder's working copy.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((DynamicImage::from_decoder(decoder)?, orientation))
}

/// JPEG markers that carry metadata: APP1 (EXIF, XMP), APP3 to APP13 (IPTC, Photoshop, makers'
/// notes), APP15 and comments. APP0 (JFIF), APP2 (the colour profile) and APP14 (Adobe's colour
/// transform, needed to decode CMYK) stay.
const JPEG_METADATA: [u8; 14] = [
    0xE1, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEF, 0xFE,
];

/// PNG chunks that carry metadata (EXIF, text, the time of last change).
const PNG_METADATA: [[u8; 4]; 5] = [*b"eXIf", *b"tEXt", *b"iTXt", *b"zTXt", *b"tIME"];

/// The picture without its metadata, not re-encoded.
fn strip(picture: Picture, bytes: Bytes) -> Result<Bytes, PictureError> {
    let unreadable = |_| PictureError::Unreadable;
    Ok(match picture {
        Picture::Jpeg => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(bytes).map_err(unreadable)?;
            for marker in JPEG_METADATA {
                jpeg.remove_segments_by_marker(marker);
            }
            jpeg.encoder().bytes()
        }
        Picture::Png => {
            let mut png = img_parts::png::Png::from_bytes(bytes).map_err(unreadable)?;
            for kind in PNG_METADATA {
                png.remove_chunks_by_type(kind);
            }
            png.encoder().bytes()
        }
        Picture::WebP => {
            let mut webp = img_parts::webp::WebP::from_bytes(bytes).map_err(unreadable)?;
            webp.remove_chunks_by_id(*b"XMP ");
            // Also clears the EXIF flag of the extended header.
            webp.set_exif(None);
            webp.encoder().bytes()
        }
        Picture::Gif => Bytes::from(strip_gif(&bytes).ok_or(PictureError::Unreadable)?),
    })
}

/// A GIF without its comment blocks and application extensions (XMP rides in one), keeping
/// the looping ones (`NETSCAPE2.0`, `ANIMEXTS1.0`) so an animation still loops. `None` if it is
/// not a well-formed GIF.
fn strip_gif(gif: &[u8]) -> Option<Vec<u8>> {
    /// The data sub-blocks from `at`: where they end (after the zero-length terminator).
    fn sub_blocks(gif: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*gif.get(at)?);
            at += 1 + len;
            if len == 0 {
                return (at <= gif.len()).then_some(at);
            }
        }
    }
    let colour_table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    // The header and the logical screen descriptor, then the global colour table.
    let mut at = 13 + colour_table(*gif.get(10)?);
    let mut out = gif.get(..at)?.to_vec();
    loop {
        match *gif.get(at)? {
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            0x2C => {
                let flags = *gif.get(at + 9)?;
                // The descriptor, its colour table, the LZW code size, then the data.
                let data = at + 10 + colour_table(flags) + 1;
                let end = sub_blocks(gif, data)?;
                out.extend_from_slice(gif.get(at..end)?);
                at = end;
            }
            0x21 => {
                let label = *gif.get(at + 1)?;
                let end = sub_blocks(gif, at + 2)?;
                let looping = label == 0xFF
                    && matches!(
                        gif.get(at + 3..at + 14),
                        Some(b"NETSCAPE2.0" | b"ANIMEXTS1.0")
                    );
                if !matches!(label, 0xFE | 0xFF) || looping {
                    out.extend_from_slice(gif.get(at..end)?);
                }
                at = end;
            }
            _ => return None,
        }
    }
}

/// A rotated photo, encoded again in its own format.
fn reencode(picture: Picture, image: &DynamicImage) -> Result<Vec<u8>, PictureError> {
    let mut out = Cursor::new(Vec::new());
    match picture {
        Picture::Jpeg => image.to_rgb8().write_with_encoder(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90),
        )?,
        other => image.write_to(&mut out, other.format())?,
    }
    Ok(out.into_inner())
}

/// A small picture: JPEG when it is opaque, PNG when it has transparency.
fn encode_small(image: &DynamicImage) -> Result<Encoded, PictureError> {
    let mut out = Cursor::new(Vec::new());
    let mime =
        if image.color().has_alpha() {
            image.write_to(&mut out, image::ImageFormat::Png)?;
            "image/png"
        } else {
            image.to_rgb8().write_with_encoder(
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80),
            )?;
            "image/jpeg"
        };
    Ok(Encoded {
        bytes: out.into_inner(),
        mime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::new_rgb8(width, height)
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    /// A PNG whose header claims `width`×`height` (the pixel data is not there at all).
    fn bomb_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&ihdr);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc(&chunk).to_be_bytes());
        out
    }

    fn crc(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_bomb_is_refused_by_its_header() {
        let err = prepare(
            Picture::Png,
            Bytes::from(bomb_header(100, 100_000_000)),
            50_000_000,
        )
        .expect_err("refused");
        assert!(matches!(
            err,
            PictureError::TooLarge {
                width: 100,
                height: 100_000_000,
                ..
            }
        ));
    }

    #[test]
    fn text_chunks_are_dropped_and_the_size_is_kept() {
        let mut img = img_parts::png::Png::from_bytes(Bytes::from(png(640, 320))).expect("png");
        let text = img_parts::png::PngChunk::new(*b"tEXt", Bytes::from_static(b"GPS\0 51.5,-0.1"));
        img.chunks_mut().insert(1, text);
        let bytes = img.encoder().bytes();
        assert!(bytes.windows(3).any(|w| w == b"GPS"));
        let prepared = prepare(Picture::Png, bytes, 50_000_000).expect("prepared");
        assert!(!prepared.bytes.windows(3).any(|w| w == b"GPS"));
        assert_eq!((prepared.width, prepared.height), (640, 320));
        assert_eq!(prepared.thumb.mime, "image/jpeg");
        let thumb = image::load_from_memory(&prepared.thumb.bytes).expect("thumb");
        assert_eq!(
            (thumb.width(), thumb.height()),
            (THUMB_SIDE, THUMB_SIDE / 2)
        );
    }

    #[test]
    fn a_header_without_pixels_is_unreadable() {
        let bytes = bomb_header(10, 10);
        let err = prepare(Picture::Png, Bytes::from(bytes), 50_000_000).expect_err("refused");
        assert_eq!(err, PictureError::Unreadable);
    }

    #[test]
    fn a_gif_loses_its_comments_and_xmp_but_keeps_its_loop() {
        let mut out = Cursor::new(Vec::new());
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
            encoder
                .set_repeat(image::codecs::gif::Repeat::Infinite)
                .expect("loop");
            let frame = image::Frame::new(image::RgbaImage::new(4, 3));
            encoder
                .encode_frames([frame.clone(), frame])
                .expect("encode");
        }
        let plain = out.into_inner();
        // A comment and an XMP application extension, just before the trailer.
        let mut gif = plain[..plain.len() - 1].to_vec();
        gif.extend_from_slice(b"\x21\xFE\x0Bsecret note\x00");
        gif.extend_from_slice(b"\x21\xFF\x0BXMP DataXMP\x09GPS 51.5N\x00");
        gif.push(0x3B);
        let stripped = strip_gif(&gif).expect("a GIF");
        assert_eq!(stripped, plain, "exactly the GIF without them");
        assert!(
            stripped.windows(11).any(|w| w == b"NETSCAPE2.0"),
            "still loops"
        );
        let decoded = image::load_from_memory(&stripped).expect("still decodes");
        assert_eq!((decoded.width(), decoded.height()), (4, 3));
        assert_eq!(strip_gif(b"GIF89a\x01\x00"), None, "cut short");
    }

    #[test]
    fn an_avatar_is_a_centred_square() {
        let avatar = avatar(Picture::Png, &png(300, 100), 50_000_000).expect("avatar");
        let img = image::load_from_memory(&avatar.bytes).expect("decodes");
        assert_eq!((img.width(), img.height()), (AVATAR_SIDE, AVATAR_SIDE));
    }
}
