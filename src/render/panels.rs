//! Panels: each panel's face (background, buttons, text) is painted into a texture of its own
//! when its content changes, then drawn as a quad in the world for each eye. Text is shaped and
//! rasterised by cosmic-text through glyphon, with the Inter font shipped in `assets/fonts`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use glam::Vec2;
use glyphon::{
    Attrs, Buffer, Cache, Color, Family, FontSystem, Metrics, Resolution, Shaping, SwashCache,
    TextArea, TextAtlas, TextBounds, TextRenderer, Viewport, Weight, Wrap,
};
use wgpu::util::DeviceExt;

use super::{PANEL_FORMAT, RenderError, Stats};
use crate::scene::{FontWeight, Panel, PanelKind};

/// Texture pixels per metre of panel: 1600 px/m gives ~36 px for a 23 mm em, sharp at 1.3 m on
/// a 2k-per-eye headset (≈ 25 px per degree).
const PIXELS_PER_METRE: f32 = 1600.0;
/// Background, shapes and buttons of one panel: the letter keypad (N6) has 44 buttons.
const MAX_RECTS: usize = 64;

const INTER_REGULAR: &[u8] = include_bytes!("../../assets/fonts/Inter-Regular.otf");
const INTER_SEMIBOLD: &[u8] = include_bytes!("../../assets/fonts/Inter-SemiBold.otf");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Rect {
    rect: [f32; 4],
    colour: [f32; 4],
    style: [f32; 4],
}

struct Slot {
    content: u64,
    width: u32,
    height: u32,
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
    text: TextRenderer,
    viewport: Viewport,
    screen_bind_group: wgpu::BindGroup,
}

pub(super) struct PanelPainter {
    device: wgpu::Device,
    queue: wgpu::Queue,
    face_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    fonts: FontSystem,
    swash: SwashCache,
    cache: Cache,
    atlas: TextAtlas,
    slots: HashMap<PanelKind, Slot>,
    rects: wgpu::Buffer,
    rect_pipeline: wgpu::RenderPipeline,
    screen_layout: wgpu::BindGroupLayout,
}

/// Fonts from memory only: the same glyphs on every machine (golden images depend on it).
pub(crate) fn font_system() -> FontSystem {
    let mut db = glyphon::fontdb::Database::new();
    db.load_font_data(INTER_REGULAR.to_vec());
    db.load_font_data(INTER_SEMIBOLD.to_vec());
    db.set_sans_serif_family("Inter");
    FontSystem::new_with_locale_and_db("en-GB".into(), db)
}

fn srgb_u8(linear: f32) -> u8 {
    let c = linear.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0).round() as u8
}

fn content_hash(panel: &Panel) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!(
        "{:?}{:?}{:?}{:?}{:?}{}",
        panel.size, panel.background, panel.texts, panel.buttons, panel.shapes, panel.corner_radius
    )
    .hash(&mut h);
    h.finish()
}

impl PanelPainter {
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        face_layout: &wgpu::BindGroupLayout,
        sampler: &wgpu::Sampler,
    ) -> Self {
        let cache = Cache::new(device);
        let atlas = TextAtlas::new(device, queue, &cache, PANEL_FORMAT);
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("ui.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/ui.wgsl").into()),
        });
        let screen_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("ui screen"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("ui rects"),
            bind_group_layouts: &[Some(&screen_layout)],
            immediate_size: 0,
        });
        let attributes = wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4, 2 => Float32x4];
        let rect_pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("ui rects"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<Rect>() as u64,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &attributes,
                })],
            },
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: PANEL_FORMAT,
                    blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let rects = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ui rects"),
            size: (std::mem::size_of::<Rect>() * MAX_RECTS * 4) as u64,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            device: device.clone(),
            queue: queue.clone(),
            face_layout: face_layout.clone(),
            sampler: sampler.clone(),
            fonts: font_system(),
            swash: SwashCache::new(),
            cache,
            atlas,
            slots: HashMap::new(),
            rects,
            rect_pipeline,
            screen_layout,
        }
    }

    /// The bind group (texture + sampler) showing this panel's face, painting it first when its
    /// content changed. `slot_index` spreads the rect uploads of the panels painted this frame.
    pub fn face(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        panel: &Panel,
        slot_index: usize,
        stats: &mut Stats,
    ) -> Result<&wgpu::BindGroup, RenderError> {
        let content = content_hash(panel);
        let width = (panel.size.x * PIXELS_PER_METRE).round().clamp(8.0, 4096.0) as u32;
        let height = (panel.size.y * PIXELS_PER_METRE).round().clamp(8.0, 4096.0) as u32;
        let fresh = match self.slots.get(&panel.kind) {
            Some(slot) if slot.content == content => return Ok(&self.slots[&panel.kind].bind_group),
            Some(slot) => slot.width != width || slot.height != height,
            None => true,
        };
        if fresh {
            let slot = self.new_slot(width, height, stats);
            self.slots.insert(panel.kind, slot);
        }
        self.paint(encoder, panel, slot_index)?;
        let slot = self
            .slots
            .get_mut(&panel.kind)
            .ok_or_else(|| RenderError::Text("panel slot vanished".into()))?;
        slot.content = content;
        stats.panel_repaints += 1;
        Ok(&slot.bind_group)
    }

    /// The face painted for a kind of panel, if one has been painted.
    pub fn bind_group(&self, kind: PanelKind) -> Option<&wgpu::BindGroup> {
        self.slots.get(&kind).map(|slot| &slot.bind_group)
    }

    /// Bytes of the panel face textures.
    pub fn face_bytes(&self) -> u64 {
        self.slots
            .values()
            .map(|s| u64::from(s.width) * u64::from(s.height) * 4)
            .sum()
    }

    /// Frees glyph atlas space not used by the last painted faces.
    pub fn trim(&mut self) {
        self.atlas.trim();
    }

    fn new_slot(&mut self, width: u32, height: u32, stats: &mut Stats) -> Slot {
        let device = &self.device;
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("panel face"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: PANEL_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = face_bind_group(
            device,
            &self.face_layout,
            &view,
            &self.sampler,
            "panel face",
        );
        let screen = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("ui screen"),
            contents: bytemuck::cast_slice(&[width as f32, height as f32, 0.0, 0.0]),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let screen_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("ui screen"),
            layout: &self.screen_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: screen.as_entire_binding(),
            }],
        });
        stats.gpu_allocations += 5;
        Slot {
            content: 0,
            width,
            height,
            view,
            bind_group,
            text: TextRenderer::new(&mut self.atlas, device, Default::default(), None),
            viewport: Viewport::new(device, &self.cache),
            screen_bind_group,
        }
    }

    fn paint(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        panel: &Panel,
        slot_index: usize,
    ) -> Result<(), RenderError> {
        let (device, queue) = (&self.device, &self.queue);
        let px = |m: f32| m * PIXELS_PER_METRE;
        let mut rects = vec![Rect {
            rect: [0.0, 0.0, px(panel.size.x), px(panel.size.y)],
            colour: panel.background,
            style: [px(panel.corner_radius), 0.0, 0.0, 0.0],
        }];
        for shape in &panel.shapes {
            rects.push(Rect {
                rect: [
                    px(shape.position.x),
                    px(shape.position.y),
                    px(shape.size.x),
                    px(shape.size.y),
                ],
                colour: shape.colour,
                style: [px(shape.corner_radius), 0.0, 0.0, 0.0],
            });
        }
        let accent = [0.10, 0.55, 0.95, 1.0];
        let mut labels = Vec::new();
        for button in &panel.buttons {
            let r = [
                px(button.position.x),
                px(button.position.y),
                px(button.size.x),
                px(button.size.y),
            ];
            let radius = px(button.size.y) / 2.0;
            let (colour, style, text) = match (button.enabled, button.primary) {
                (true, true) => (accent, [radius, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]),
                (true, false) => (
                    [0.75, 0.80, 0.86, 1.0],
                    [radius, px(0.002), 0.0, 0.0],
                    [0.93, 0.95, 0.97, 1.0],
                ),
                (false, _) => (
                    [0.25, 0.28, 0.32, 1.0],
                    [radius, px(0.002), 0.0, 0.0],
                    [0.30, 0.33, 0.37, 1.0],
                ),
            };
            rects.push(Rect {
                rect: r,
                colour,
                style,
            });
            labels.push((button, text));
        }
        if rects.len() > MAX_RECTS {
            tracing::warn!(
                kind = ?panel.kind,
                rects = rects.len(),
                "panel has more shapes and buttons than drawn ({MAX_RECTS}); the rest are left out"
            );
            rects.truncate(MAX_RECTS);
        }
        let rect_offset = (slot_index % 4 * MAX_RECTS * std::mem::size_of::<Rect>()) as u64;
        queue.write_buffer(&self.rects, rect_offset, bytemuck::cast_slice(&rects));

        let slot = self
            .slots
            .get_mut(&panel.kind)
            .ok_or_else(|| RenderError::Text("panel slot missing".into()))?;
        slot.viewport.update(
            queue,
            Resolution {
                width: slot.width,
                height: slot.height,
            },
        );
        let mut buffers = Vec::new();
        for block in &panel.texts {
            let size = px(block.size);
            let mut buffer = Buffer::new(&mut self.fonts, Metrics::new(size, size * 1.3));
            buffer.set_wrap(Wrap::WordOrGlyph);
            buffer.set_size(Some(px(block.width)), Some(px(block.height)));
            let weight = match block.weight {
                FontWeight::Regular => Weight::NORMAL,
                FontWeight::SemiBold => Weight::SEMIBOLD,
            };
            buffer.set_text(
                &block.text,
                &Attrs::new().family(Family::SansSerif).weight(weight),
                Shaping::Advanced,
                None,
            );
            buffer.shape_until_scroll(&mut self.fonts, false);
            buffers.push((
                buffer,
                block.position,
                block.height,
                block.width,
                block.colour,
            ));
        }
        for (button, colour) in &labels {
            let size = px(button.size.y * 0.42);
            let mut buffer = Buffer::new(&mut self.fonts, Metrics::new(size, size * 1.2));
            buffer.set_size(Some(px(button.size.x)), Some(size * 1.2));
            buffer.set_text(
                &button.label,
                &Attrs::new()
                    .family(Family::SansSerif)
                    .weight(Weight::SEMIBOLD),
                Shaping::Advanced,
                Some(glyphon::cosmic_text::Align::Center),
            );
            buffer.shape_until_scroll(&mut self.fonts, false);
            let top = button.position.y + (button.size.y - size * 1.2 / PIXELS_PER_METRE) / 2.0;
            buffers.push((
                buffer,
                Vec2::new(button.position.x, top),
                button.size.y,
                button.size.x,
                *colour,
            ));
        }
        let areas = buffers.iter().map(|(buffer, at, height, width, colour)| {
            let left = px(at.x);
            let top = px(at.y);
            TextArea {
                buffer,
                left,
                top,
                scale: 1.0,
                bounds: TextBounds {
                    left: left as i32,
                    top: top as i32,
                    right: (left + px(*width)) as i32 + 2,
                    bottom: (top + px(*height)) as i32 + 2,
                },
                default_color: Color::rgba(
                    srgb_u8(colour[0]),
                    srgb_u8(colour[1]),
                    srgb_u8(colour[2]),
                    (colour[3].clamp(0.0, 1.0) * 255.0) as u8,
                ),
                custom_glyphs: &[],
            }
        });
        slot.text
            .prepare(
                device,
                queue,
                &mut self.fonts,
                &mut self.atlas,
                &slot.viewport,
                areas,
                &mut self.swash,
            )
            .map_err(|e| RenderError::Text(e.to_string()))?;
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("panel face"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &slot.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&self.rect_pipeline);
        pass.set_bind_group(0, &slot.screen_bind_group, &[]);
        let bytes = (rects.len() * std::mem::size_of::<Rect>()) as u64;
        pass.set_vertex_buffer(0, self.rects.slice(rect_offset..rect_offset + bytes));
        pass.draw(0..6, 0..rects.len() as u32);
        slot.text
            .render(&self.atlas, &slot.viewport, &mut pass)
            .map_err(|e| RenderError::Text(e.to_string()))?;
        Ok(())
    }
}

/// What the panels' pipeline samples: a face painted here, or a step's picture.
pub(super) fn face_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    view: &wgpu::TextureView,
    sampler: &wgpu::Sampler,
    label: &str,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(view),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Sampler(sampler),
            },
        ],
    })
}
