//! Link-signing keys in SQLite (N2).

use rusqlite::params;
use time::OffsetDateTime;

use super::sqlite::{SqliteStore, from_unix, unix};
use super::{LinkKeyRecord, LinkKeyStore, PrivateKeyReplacement, StoreResult};

impl LinkKeyStore for SqliteStore {
    fn add_link_key(&self, key: &LinkKeyRecord) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO link_keys (organisation, key_id, public_key, private_key,
                                        created_at, retired_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    key.organisation,
                    key.key_id,
                    key.public_key,
                    key.private_key,
                    unix(key.created_at),
                    key.retired_at.map(unix),
                ],
            )?;
            Ok(())
        })
    }

    fn replace_private_keys(&self, replacements: &[PrivateKeyReplacement]) -> StoreResult<usize> {
        self.write_erasing(|tx| {
            let mut replaced = 0;
            for key in replacements {
                replaced += tx.execute(
                    "UPDATE link_keys SET private_key = ?4
                     WHERE organisation = ?1 AND key_id = ?2 AND private_key = ?3",
                    params![key.organisation, key.key_id, key.from, key.to],
                )?;
            }
            Ok(replaced)
        })
    }

    fn link_keys(&self, organisation: Option<&str>) -> StoreResult<Vec<LinkKeyRecord>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(
                    "SELECT organisation, key_id, public_key, private_key, created_at, retired_at
                     FROM link_keys WHERE ?1 IS NULL OR organisation = ?1
                     ORDER BY created_at DESC, key_id",
                )?
                .query_map(params![organisation], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter()
                .map(
                    |(organisation, key_id, public_key, private_key, created, retired)| {
                        Ok(LinkKeyRecord {
                            organisation,
                            key_id,
                            public_key,
                            private_key,
                            created_at: from_unix(created)?,
                            retired_at: retired.map(from_unix).transpose()?,
                        })
                    },
                )
                .collect()
        })
    }

    fn retire_link_key(
        &self,
        organisation: &str,
        key_id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE link_keys SET retired_at = ?3
                 WHERE organisation = ?1 AND key_id = ?2 AND retired_at IS NULL",
                params![organisation, key_id, unix(at)],
            )? == 1)
        })
    }

    fn set_signed_links_required(&self, organisation: &str, required: bool) -> StoreResult<()> {
        self.write(|tx| {
            if required {
                tx.execute(
                    "INSERT OR IGNORE INTO signed_links_required (organisation) VALUES (?1)",
                    params![organisation],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM signed_links_required WHERE organisation = ?1",
                    params![organisation],
                )?;
            }
            Ok(())
        })
    }

    fn signed_links_required(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT organisation FROM signed_links_required ORDER BY organisation",
            )?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }
}
