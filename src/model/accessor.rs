//! Reads glTF accessors of any component type into `f32`/`u32`, bounds-checked.
//!
//! Written here rather than taken from `gltf::mesh::Reader`: that reader indexes buffers without
//! checking (a view past its buffer panics) and only accepts the core spec's component types,
//! while KHR_mesh_quantization allows normalized and integer positions, normals and UVs.

use gltf::accessor::{DataType, Dimensions};

/// The bytes of each buffer view, already sliced (and decompressed where a view is compressed).
pub(super) struct ViewData {
    pub views: Vec<Option<Vec<u8>>>,
}

fn component_size(data_type: DataType) -> usize {
    match data_type {
        DataType::I8 | DataType::U8 => 1,
        DataType::I16 | DataType::U16 => 2,
        DataType::U32 | DataType::F32 => 4,
    }
}

pub(super) fn component_count(dimensions: Dimensions) -> usize {
    match dimensions {
        Dimensions::Scalar => 1,
        Dimensions::Vec2 => 2,
        Dimensions::Vec3 => 3,
        Dimensions::Vec4 => 4,
        Dimensions::Mat2 => 4,
        Dimensions::Mat3 => 9,
        Dimensions::Mat4 => 16,
    }
}

fn read_component(bytes: &[u8], data_type: DataType, normalized: bool) -> f32 {
    let b = |i: usize| bytes.get(i).copied().unwrap_or(0);
    match data_type {
        DataType::F32 => f32::from_le_bytes([b(0), b(1), b(2), b(3)]),
        DataType::U32 => u32::from_le_bytes([b(0), b(1), b(2), b(3)]) as f32,
        DataType::U8 if normalized => f32::from(b(0)) / 255.0,
        DataType::U8 => f32::from(b(0)),
        DataType::I8 if normalized => (f32::from(b(0) as i8) / 127.0).max(-1.0),
        DataType::I8 => f32::from(b(0) as i8),
        DataType::U16 if normalized => f32::from(u16::from_le_bytes([b(0), b(1)])) / 65535.0,
        DataType::U16 => f32::from(u16::from_le_bytes([b(0), b(1)])),
        DataType::I16 if normalized => {
            (f32::from(i16::from_le_bytes([b(0), b(1)])) / 32767.0).max(-1.0)
        }
        DataType::I16 => f32::from(i16::from_le_bytes([b(0), b(1)])),
    }
}

fn read_index(bytes: &[u8], data_type: DataType) -> Option<u32> {
    match data_type {
        DataType::U8 => bytes.first().map(|&v| u32::from(v)),
        DataType::U16 => Some(u32::from(u16::from_le_bytes(
            bytes.get(..2)?.try_into().ok()?,
        ))),
        DataType::U32 => Some(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)),
        _ => None,
    }
}

/// A strided run of `count` elements of `element_size` bytes in a view, checked to fit.
fn elements(
    views: &ViewData,
    view_index: usize,
    offset: usize,
    stride: Option<usize>,
    count: usize,
    element_size: usize,
) -> Result<(&[u8], usize), String> {
    let view = views
        .views
        .get(view_index)
        .and_then(Option::as_ref)
        .ok_or_else(|| format!("buffer view {view_index} has no data"))?;
    let stride = stride.unwrap_or(element_size);
    if stride < element_size {
        return Err(format!(
            "buffer view {view_index}: stride {stride} is smaller than an element ({element_size} bytes)"
        ));
    }
    if count > 0 {
        let end = count
            .checked_sub(1)
            .and_then(|n| n.checked_mul(stride))
            .and_then(|n| n.checked_add(offset))
            .and_then(|n| n.checked_add(element_size))
            .ok_or("accessor size overflows")?;
        if end > view.len() {
            return Err(format!(
                "accessor runs past the end of buffer view {view_index} ({end} > {} bytes)",
                view.len()
            ));
        }
    }
    Ok((view.get(offset..).unwrap_or(&[]), stride))
}

/// False for the placeholder view of accessors that have no view of their own.
fn has_data(views: &ViewData, view: &gltf::buffer::View<'_>) -> bool {
    views.views.get(view.index()).is_some_and(Option::is_some)
}

/// All elements of an accessor as flat `f32`s (`count × components`), sparse values applied.
pub(super) fn read_floats(
    accessor: &gltf::Accessor<'_>,
    views: &ViewData,
) -> Result<Vec<f32>, String> {
    let components = component_count(accessor.dimensions());
    let data_type = accessor.data_type();
    let size = component_size(data_type);
    let count = accessor.count();
    let normalized = accessor.normalized();
    let total = count
        .checked_mul(components)
        .filter(|&n| n <= 1 << 28)
        .ok_or_else(|| format!("accessor {} is absurdly large", accessor.index()))?;
    let mut out = vec![0.0_f32; total];
    if let Some(view) = accessor.view().filter(|v| has_data(views, v)) {
        let (bytes, stride) = elements(
            views,
            view.index(),
            accessor.offset(),
            view.stride(),
            count,
            size * components,
        )
        .map_err(|e| format!("accessor {}: {e}", accessor.index()))?;
        for (i, element) in out.chunks_exact_mut(components).enumerate() {
            let base = i * stride;
            for (c, value) in element.iter_mut().enumerate() {
                let at = base + c * size;
                *value = read_component(
                    bytes.get(at..at + size).unwrap_or(&[]),
                    data_type,
                    normalized,
                );
            }
        }
    }
    if let Some(sparse) = accessor.sparse() {
        let n = sparse.count();
        let indices = sparse.indices();
        let index_type = match indices.index_type() {
            gltf::accessor::sparse::IndexType::U8 => DataType::U8,
            gltf::accessor::sparse::IndexType::U16 => DataType::U16,
            gltf::accessor::sparse::IndexType::U32 => DataType::U32,
        };
        let index_size = component_size(index_type);
        let (index_bytes, _) = elements(
            views,
            indices.view().index(),
            indices.offset(),
            None,
            n,
            index_size,
        )
        .map_err(|e| format!("sparse indices of accessor {}: {e}", accessor.index()))?;
        let values = sparse.values();
        let (value_bytes, _) = elements(
            views,
            values.view().index(),
            values.offset(),
            None,
            n,
            size * components,
        )
        .map_err(|e| format!("sparse values of accessor {}: {e}", accessor.index()))?;
        for k in 0..n {
            let target = read_index(&index_bytes[k * index_size..], index_type)
                .map(|i| i as usize)
                .filter(|&i| i < count)
                .ok_or_else(|| {
                    format!(
                        "sparse index of accessor {} is out of range",
                        accessor.index()
                    )
                })?;
            for c in 0..components {
                let at = (k * components + c) * size;
                out[target * components + c] =
                    read_component(&value_bytes[at..at + size], data_type, normalized);
            }
        }
    }
    if out.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "accessor {} holds NaN or infinite numbers",
            accessor.index()
        ));
    }
    Ok(out)
}

pub(super) fn read_vec<const N: usize>(
    accessor: &gltf::Accessor<'_>,
    views: &ViewData,
) -> Result<Vec<[f32; N]>, String> {
    let components = component_count(accessor.dimensions());
    if components != N {
        return Err(format!(
            "accessor {} has {components} components, expected {N}",
            accessor.index()
        ));
    }
    let flat = read_floats(accessor, views)?;
    Ok(flat
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0.0; N];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

/// Index accessor (unsigned scalar), each index checked against `vertex_count`.
pub(super) fn read_indices(
    accessor: &gltf::Accessor<'_>,
    views: &ViewData,
    vertex_count: usize,
) -> Result<Vec<u32>, String> {
    let data_type = accessor.data_type();
    if accessor.dimensions() != Dimensions::Scalar
        || !matches!(data_type, DataType::U8 | DataType::U16 | DataType::U32)
    {
        return Err(format!(
            "index accessor {} is not an unsigned integer scalar",
            accessor.index()
        ));
    }
    let indices: Vec<u32> =
        if accessor.sparse().is_some() || !accessor.view().is_some_and(|v| has_data(views, &v)) {
            read_floats(accessor, views)?
                .into_iter()
                .map(|v| v as u32)
                .collect()
        } else {
            let size = component_size(data_type);
            let view = accessor.view().ok_or("index accessor has no view")?;
            let (bytes, stride) = elements(
                views,
                view.index(),
                accessor.offset(),
                view.stride(),
                accessor.count(),
                size,
            )
            .map_err(|e| format!("index accessor {}: {e}", accessor.index()))?;
            (0..accessor.count())
                .map(|i| read_index(&bytes[i * stride..], data_type).unwrap_or(u32::MAX))
                .collect()
        };
    if let Some(bad) = indices.iter().find(|&&i| i as usize >= vertex_count) {
        return Err(format!(
            "index accessor {} refers to vertex {bad}, but the primitive has {vertex_count} vertices",
            accessor.index()
        ));
    }
    Ok(indices)
}
