//! The link keys a device checks signed stickers with (N2), kept in the encrypted cache so
//! that checking works offline.

use rusqlite::params;

use super::{CacheError, Store};
use crate::guide::link_trust::{LinkKey, LinkTrust};

impl Store {
    /// Replaces what the device trusts with what the service said at sign-in or refresh.
    pub fn save_link_trust(&self, trust: &LinkTrust) -> Result<(), CacheError> {
        self.run(|c| {
            let t = c.transaction()?;
            t.execute("DELETE FROM link_keys", [])?;
            t.execute("DELETE FROM signed_links_required", [])?;
            for key in &trust.keys {
                t.execute(
                    "INSERT OR REPLACE INTO link_keys (organisation, key_id, public_key, retired)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![key.organisation, key.key_id, key.public_key, key.retired],
                )?;
            }
            for organisation in &trust.signatures_required {
                t.execute(
                    "INSERT OR IGNORE INTO signed_links_required (organisation) VALUES (?1)",
                    params![organisation],
                )?;
            }
            t.commit()?;
            Ok(())
        })
    }

    /// What the device trusts, as last saved (nothing before the first sign-in).
    pub fn link_trust(&self) -> Result<LinkTrust, CacheError> {
        self.run(|c| {
            let keys = c
                .prepare_cached(
                    "SELECT organisation, key_id, public_key, retired FROM link_keys
                     ORDER BY organisation, key_id",
                )?
                .query_map([], |r| {
                    Ok(LinkKey {
                        organisation: r.get(0)?,
                        key_id: r.get(1)?,
                        public_key: r.get(2)?,
                        retired: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let signatures_required = c
                .prepare_cached("SELECT organisation FROM signed_links_required ORDER BY 1")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(LinkTrust {
                keys,
                signatures_required,
            })
        })
    }
}
