//! `XR_EXT_spatial_marker_tracking` (on `XR_EXT_spatial_entity` and `XR_EXT_future`): a spatial
//! context with the QR (and Micro QR) capability, created asynchronously; then, at most every
//! [`PERIOD_NS`], a discovery snapshot of the marker and bounded-2D components, its payloads read
//! from the snapshot's buffers. Each step is a future checked once a frame, never waited on.
//! openxr-sys 0.14 declares all of it; the openxr crate loads the functions when the
//! extensions are enabled.

use std::ffi::c_void;
use std::ptr;

use glam::Vec2;
use openxr as xr;
use openxr::raw;
use openxr::sys;
use openxr::sys::Handle;

use super::draw::to_pose;
use super::markers::{Failed, MAX_MARKERS, MAX_PAYLOAD, PERIOD_NS, Read, check, since_epoch};
use crate::camera::runtime_marker::{RuntimeMarker, Symbology};

/// The components every tracked marker has, and the ones read.
const COMPONENTS: [sys::SpatialComponentTypeEXT; 2] = [
    sys::SpatialComponentTypeEXT::MARKER,
    sys::SpatialComponentTypeEXT::BOUNDED_2D,
];

enum State {
    /// The spatial context is being created.
    Creating(sys::FutureEXT),
    Ready {
        context: sys::SpatialContextEXT,
        /// A discovery snapshot being made.
        discovery: Option<sys::FutureEXT>,
    },
}

/// The spatial context tracking QR codes, and where its discovery is.
pub(super) struct SpatialMarkers {
    instance: xr::Instance,
    session: sys::Session,
    entity: raw::SpatialEntityEXT,
    future: raw::FutureEXT,
    state: State,
    /// When the last discovery snapshot was asked for (runtime clock, ns).
    asked_at: Option<i64>,
}

impl SpatialMarkers {
    /// Starts creating a context on `session` for the QR capabilities `system` has; none
    /// where it has neither QR nor Micro QR tracking.
    pub(super) fn start(
        instance: &xr::Instance,
        system: xr::SystemId,
        session: sys::Session,
    ) -> Result<Option<Self>, Failed> {
        let (Some(entity), Some(future)) = (
            instance.exts().ext_spatial_entity,
            instance.exts().ext_future,
        ) else {
            return Ok(None);
        };
        let call = "xrEnumerateSpatialCapabilitiesEXT";
        let mut count = 0u32;
        // SAFETY: a live instance and its system; capacity 0 with a null array asks the count.
        let result = unsafe {
            (entity.enumerate_spatial_capabilities)(
                instance.as_raw(),
                system,
                0,
                &mut count,
                ptr::null_mut(),
            )
        };
        check(call, result)?;
        let mut offered = vec![sys::SpatialCapabilityEXT::from_raw(0); count as usize];
        // SAFETY: `offered` holds `count` elements, the capacity passed.
        let result = unsafe {
            (entity.enumerate_spatial_capabilities)(
                instance.as_raw(),
                system,
                count,
                &mut count,
                offered.as_mut_ptr(),
            )
        };
        check(call, result)?;
        offered.truncate(count as usize);
        let qr = sys::SpatialCapabilityEXT::MARKER_TRACKING_QR_CODE;
        let micro = sys::SpatialCapabilityEXT::MARKER_TRACKING_MICRO_QR_CODE;
        let qr_config = sys::SpatialCapabilityConfigurationQrCodeEXT {
            ty: sys::SpatialCapabilityConfigurationQrCodeEXT::TYPE,
            next: ptr::null(),
            capability: qr,
            enabled_component_count: COMPONENTS.len() as u32,
            enabled_components: COMPONENTS.as_ptr(),
        };
        let micro_config = sys::SpatialCapabilityConfigurationMicroQrCodeEXT {
            ty: sys::SpatialCapabilityConfigurationMicroQrCodeEXT::TYPE,
            next: ptr::null(),
            capability: micro,
            enabled_component_count: COMPONENTS.len() as u32,
            enabled_components: COMPONENTS.as_ptr(),
        };
        let mut configs: Vec<*const sys::SpatialCapabilityConfigurationBaseHeaderEXT> = Vec::new();
        if offered.contains(&qr) {
            configs.push(ptr::from_ref(&qr_config).cast());
        }
        if offered.contains(&micro) {
            configs.push(ptr::from_ref(&micro_config).cast());
        }
        if configs.is_empty() {
            tracing::info!("the runtime offers spatial marker tracking but tracks no QR codes");
            return Ok(None);
        }
        let info = sys::SpatialContextCreateInfoEXT {
            ty: sys::SpatialContextCreateInfoEXT::TYPE,
            next: ptr::null(),
            capability_config_count: configs.len() as u32,
            capability_configs: configs.as_ptr(),
        };
        let mut creating = sys::FutureEXT::from_raw(0);
        // SAFETY: a live session of this instance; `info`, the configurations it points at and
        // their component arrays outlive the call; `creating` is a valid place.
        let result =
            unsafe { (entity.create_spatial_context_async)(session, &info, &mut creating) };
        check("xrCreateSpatialContextAsyncEXT", result)?;
        Ok(Some(Self {
            instance: instance.clone(),
            session,
            entity,
            future,
            state: State::Creating(creating),
            asked_at: None,
        }))
    }

    /// Markers of a discovery snapshot finished since the last poll, located in `space` at
    /// `time`; finishes creating the context, or asks for the next snapshot when it is due.
    pub(super) fn poll(&mut self, space: sys::Space, time: xr::Time) -> Result<Vec<Read>, Failed> {
        match self.state {
            State::Creating(creating) => {
                if !self.is_ready(creating)? {
                    return Ok(Vec::new());
                }
                let mut completion = sys::CreateSpatialContextCompletionEXT {
                    ty: sys::CreateSpatialContextCompletionEXT::TYPE,
                    next: ptr::null_mut(),
                    future_result: sys::Result::SUCCESS,
                    spatial_context: sys::SpatialContextEXT::NULL,
                };
                // SAFETY: a live session and the future its creation returned, now ready;
                // `completion` is a valid place. The future is used up by this call.
                let result = unsafe {
                    (self.entity.create_spatial_context_complete)(
                        self.session,
                        creating,
                        &mut completion,
                    )
                };
                self.state = State::Ready {
                    context: sys::SpatialContextEXT::NULL,
                    discovery: None,
                };
                check("xrCreateSpatialContextCompleteEXT", result)?;
                check("xrCreateSpatialContextAsyncEXT", completion.future_result)?;
                self.state = State::Ready {
                    context: completion.spatial_context,
                    discovery: None,
                };
                Ok(Vec::new())
            }
            State::Ready {
                context,
                discovery: Some(discovering),
            } => {
                if !self.is_ready(discovering)? {
                    return Ok(Vec::new());
                }
                self.state = State::Ready {
                    context,
                    discovery: None,
                };
                let info = sys::CreateSpatialDiscoverySnapshotCompletionInfoEXT {
                    ty: sys::CreateSpatialDiscoverySnapshotCompletionInfoEXT::TYPE,
                    next: ptr::null(),
                    base_space: space,
                    time,
                    future: discovering,
                };
                let mut completion = sys::CreateSpatialDiscoverySnapshotCompletionEXT {
                    ty: sys::CreateSpatialDiscoverySnapshotCompletionEXT::TYPE,
                    next: ptr::null_mut(),
                    future_result: sys::Result::SUCCESS,
                    snapshot: sys::SpatialSnapshotEXT::NULL,
                };
                // SAFETY: a live context and space, the future its discovery returned, now
                // ready; `info` and `completion` are valid for the call.
                let result = unsafe {
                    (self.entity.create_spatial_discovery_snapshot_complete)(
                        context,
                        &info,
                        &mut completion,
                    )
                };
                check("xrCreateSpatialDiscoverySnapshotCompleteEXT", result)?;
                check(
                    "xrCreateSpatialDiscoverySnapshotAsyncEXT",
                    completion.future_result,
                )?;
                let snapshot = Snapshot {
                    entity: self.entity,
                    handle: completion.snapshot,
                };
                snapshot.markers(time)
            }
            State::Ready {
                context,
                discovery: None,
            } => {
                let now = time.as_nanos();
                if self.asked_at.is_some_and(|at| now - at < PERIOD_NS) {
                    return Ok(Vec::new());
                }
                let info = sys::SpatialDiscoverySnapshotCreateInfoEXT {
                    ty: sys::SpatialDiscoverySnapshotCreateInfoEXT::TYPE,
                    next: ptr::null(),
                    component_type_count: COMPONENTS.len() as u32,
                    component_types: COMPONENTS.as_ptr(),
                };
                let mut discovering = sys::FutureEXT::from_raw(0);
                // SAFETY: a live context; `info` and its array outlive the call.
                let result = unsafe {
                    (self.entity.create_spatial_discovery_snapshot_async)(
                        context,
                        &info,
                        &mut discovering,
                    )
                };
                check("xrCreateSpatialDiscoverySnapshotAsyncEXT", result)?;
                self.state = State::Ready {
                    context,
                    discovery: Some(discovering),
                };
                self.asked_at = Some(now);
                Ok(Vec::new())
            }
        }
    }

    /// Whether `future` finished (xrPollFutureEXT; never waits).
    fn is_ready(&self, future: sys::FutureEXT) -> Result<bool, Failed> {
        let info = sys::FuturePollInfoEXT {
            ty: sys::FuturePollInfoEXT::TYPE,
            next: ptr::null(),
            future,
        };
        let mut polled = sys::FuturePollResultEXT {
            ty: sys::FuturePollResultEXT::TYPE,
            next: ptr::null_mut(),
            state: sys::FutureStateEXT::PENDING,
        };
        // SAFETY: a live instance and a future of it not yet completed; both structs are
        // valid for the call.
        let result =
            unsafe { (self.future.poll_future)(self.instance.as_raw(), &info, &mut polled) };
        check("xrPollFutureEXT", result)?;
        Ok(polled.state == sys::FutureStateEXT::READY)
    }

    /// Gives up a future not completed (the session is ending).
    fn cancel(&self, future: sys::FutureEXT) {
        let info = sys::FutureCancelInfoEXT {
            ty: sys::FutureCancelInfoEXT::TYPE,
            next: ptr::null(),
            future,
        };
        // SAFETY: a live instance and a future of it not yet completed.
        let result = unsafe { (self.future.cancel_future)(self.instance.as_raw(), &info) };
        if let Err(failed) = check("xrCancelFutureEXT", result) {
            tracing::debug!("{failed}");
        }
    }
}

impl Drop for SpatialMarkers {
    fn drop(&mut self) {
        match self.state {
            State::Creating(creating) => self.cancel(creating),
            State::Ready { context, discovery } => {
                if let Some(discovering) = discovery {
                    self.cancel(discovering);
                }
                if context != sys::SpatialContextEXT::NULL {
                    // SAFETY: the context was created for this tracker and is destroyed once,
                    // here, while its session is alive (the tracker is dropped before it).
                    let result = unsafe { (self.entity.destroy_spatial_context)(context) };
                    if let Err(failed) = check("xrDestroySpatialContextEXT", result) {
                        tracing::debug!("{failed}");
                    }
                }
            }
        }
    }
}

/// A discovery snapshot, destroyed when dropped.
struct Snapshot {
    entity: raw::SpatialEntityEXT,
    handle: sys::SpatialSnapshotEXT,
}

impl Snapshot {
    /// The tracked QR markers: each entity's marker data and bounded-2D pose and extents
    /// (two-call idiom on the entities, the component lists chained on the second call).
    fn markers(&self, time: xr::Time) -> Result<Vec<Read>, Failed> {
        let call = "xrQuerySpatialComponentDataEXT";
        let condition = sys::SpatialComponentDataQueryConditionEXT {
            ty: sys::SpatialComponentDataQueryConditionEXT::TYPE,
            next: ptr::null(),
            component_type_count: COMPONENTS.len() as u32,
            component_types: COMPONENTS.as_ptr(),
        };
        let mut result = sys::SpatialComponentDataQueryResultEXT {
            ty: sys::SpatialComponentDataQueryResultEXT::TYPE,
            next: ptr::null_mut(),
            entity_id_capacity_input: 0,
            entity_id_count_output: 0,
            entity_ids: ptr::null_mut(),
            entity_state_capacity_input: 0,
            entity_state_count_output: 0,
            entity_states: ptr::null_mut(),
        };
        // SAFETY: a live snapshot; capacities 0 with null arrays ask the count.
        let status = unsafe {
            (self.entity.query_spatial_component_data)(self.handle, &condition, &mut result)
        };
        check(call, status)?;
        let count = result.entity_id_count_output as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_MARKERS {
            tracing::debug!("a snapshot with {count} markers; reading none of them");
            return Ok(Vec::new());
        }
        let mut ids = vec![sys::SpatialEntityIdEXT::default(); count];
        let mut states = vec![sys::SpatialEntityTrackingStateEXT::from_raw(0); count];
        let mut markers = vec![
            sys::SpatialMarkerDataEXT {
                capability: sys::SpatialCapabilityEXT::from_raw(0),
                marker_id: 0,
                data: sys::SpatialBufferEXT::default(),
            };
            count
        ];
        let mut bounds = vec![sys::SpatialBounded2DDataEXT::default(); count];
        let mut bounds_list = sys::SpatialComponentBounded2DListEXT {
            ty: sys::SpatialComponentBounded2DListEXT::TYPE,
            next: ptr::null_mut(),
            bound_count: count as u32,
            bounds: bounds.as_mut_ptr(),
        };
        let mut marker_list = sys::SpatialComponentMarkerListEXT {
            ty: sys::SpatialComponentMarkerListEXT::TYPE,
            next: ptr::from_mut(&mut bounds_list).cast::<c_void>(),
            marker_count: count as u32,
            markers: markers.as_mut_ptr(),
        };
        result.next = ptr::from_mut(&mut marker_list).cast::<c_void>();
        result.entity_id_capacity_input = count as u32;
        result.entity_ids = ids.as_mut_ptr();
        result.entity_state_capacity_input = count as u32;
        result.entity_states = states.as_mut_ptr();
        // SAFETY: every array holds `count` elements, the capacity each struct states; the
        // chained lists live until after the call.
        let status = unsafe {
            (self.entity.query_spatial_component_data)(self.handle, &condition, &mut result)
        };
        check(call, status)?;
        let count = (result.entity_id_count_output as usize).min(count);
        let mut read = Vec::with_capacity(count);
        for i in 0..count {
            if states[i] != sys::SpatialEntityTrackingStateEXT::TRACKING {
                continue;
            }
            let symbology = match markers[i].capability {
                sys::SpatialCapabilityEXT::MARKER_TRACKING_QR_CODE => Symbology::Qr,
                sys::SpatialCapabilityEXT::MARKER_TRACKING_MICRO_QR_CODE => Symbology::MicroQr,
                _ => Symbology::Other,
            };
            let extents = bounds[i].extents;
            read.push(Read {
                id: u128::from(ids[i].into_raw()),
                // No last-seen time in this extension: freshness goes by place.
                last_seen: None,
                marker: RuntimeMarker {
                    payload: self.payload(markers[i].data)?,
                    pose: to_pose(bounds[i].center),
                    centre: Vec2::ZERO,
                    size: Some(Vec2::new(extents.width, extents.height)),
                    last_seen: since_epoch(time),
                    symbology,
                },
            });
        }
        Ok(read)
    }

    /// A marker's payload: its buffer as a string or as bytes (two-call idiom); empty for
    /// anything else, or past [`MAX_PAYLOAD`].
    fn payload(&self, data: sys::SpatialBufferEXT) -> Result<Vec<u8>, Failed> {
        if data.buffer_id.into_raw() == 0 {
            return Ok(Vec::new());
        }
        let info = sys::SpatialBufferGetInfoEXT {
            ty: sys::SpatialBufferGetInfoEXT::TYPE,
            next: ptr::null(),
            buffer_id: data.buffer_id,
        };
        let string = data.buffer_type == sys::SpatialBufferTypeEXT::STRING;
        let call = match data.buffer_type {
            sys::SpatialBufferTypeEXT::STRING => "xrGetSpatialBufferStringEXT",
            sys::SpatialBufferTypeEXT::UINT8 => "xrGetSpatialBufferUint8EXT",
            _ => return Ok(Vec::new()),
        };
        let read = |capacity: u32, count: &mut u32, bytes: *mut u8| {
            if string {
                // SAFETY: a live snapshot and a buffer id it gave; `bytes` is null with
                // capacity 0, else holds `capacity` bytes (chars are bytes).
                unsafe {
                    (self.entity.get_spatial_buffer_string)(
                        self.handle,
                        &info,
                        capacity,
                        count,
                        bytes.cast(),
                    )
                }
            } else {
                // SAFETY: as above, for a buffer of bytes.
                unsafe {
                    (self.entity.get_spatial_buffer_uint8)(
                        self.handle,
                        &info,
                        capacity,
                        count,
                        bytes,
                    )
                }
            }
        };
        let mut count = 0u32;
        check(call, read(0, &mut count, ptr::null_mut()))?;
        if count as usize > MAX_PAYLOAD {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0u8; count as usize];
        check(call, read(count, &mut count, bytes.as_mut_ptr()))?;
        bytes.truncate(count as usize);
        // A string's count includes its terminating NUL on some runtimes, not on others.
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        Ok(bytes)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // SAFETY: the snapshot was created by the discovery that returned it and is destroyed
        // once, here.
        let result = unsafe { (self.entity.destroy_spatial_snapshot)(self.handle) };
        if let Err(failed) = check("xrDestroySpatialSnapshotEXT", result) {
            tracing::debug!("{failed}");
        }
    }
}
