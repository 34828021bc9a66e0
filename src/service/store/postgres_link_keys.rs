//! Link-signing keys in PostgreSQL (N2).

use time::OffsetDateTime;

use super::postgres::PostgresStore;
use super::sqlite::{from_unix, unix};
use super::{LinkKeyRecord, LinkKeyStore, PrivateKeyReplacement, StoreResult};

impl LinkKeyStore for PostgresStore {
    fn add_link_key(&self, key: &LinkKeyRecord) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute(
                "INSERT INTO link_keys (organisation, key_id, public_key, private_key,
                                        created_at, retired_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &key.organisation,
                    &key.key_id,
                    &key.public_key,
                    &key.private_key,
                    &unix(key.created_at),
                    &key.retired_at.map(unix),
                ],
            )?;
            Ok(())
        })
    }

    /// Each `UPDATE` matches its row only while it holds `from`: an instance starting at the
    /// same moment waits for the row's lock, then finds the row replaced and leaves it.
    fn replace_private_keys(&self, replacements: &[PrivateKeyReplacement]) -> StoreResult<usize> {
        self.write_rows(|tx| {
            let mut replaced = 0;
            for key in replacements {
                replaced += tx.execute(
                    "UPDATE link_keys SET private_key = $4
                     WHERE organisation = $1 AND key_id = $2 AND private_key = $3",
                    &[&key.organisation, &key.key_id, &key.from, &key.to],
                )?;
            }
            Ok(replaced as usize)
        })
    }

    fn link_keys(&self, organisation: Option<&str>) -> StoreResult<Vec<LinkKeyRecord>> {
        self.read(|c| {
            c.query(
                "SELECT organisation, key_id, public_key, private_key, created_at, retired_at
                 FROM link_keys WHERE $1::TEXT IS NULL OR organisation = $1
                 ORDER BY created_at DESC, key_id",
                &[&organisation],
            )?
            .iter()
            .map(|row| {
                Ok(LinkKeyRecord {
                    organisation: row.try_get(0)?,
                    key_id: row.try_get(1)?,
                    public_key: row.try_get(2)?,
                    private_key: row.try_get(3)?,
                    created_at: from_unix(row.try_get(4)?)?,
                    retired_at: row
                        .try_get::<_, Option<i64>>(5)?
                        .map(from_unix)
                        .transpose()?,
                })
            })
            .collect()
        })
    }

    fn retire_link_key(
        &self,
        organisation: &str,
        key_id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.write_rows(|tx| {
            Ok(tx.execute(
                "UPDATE link_keys SET retired_at = $3
                 WHERE organisation = $1 AND key_id = $2 AND retired_at IS NULL",
                &[&organisation, &key_id, &unix(at)],
            )? == 1)
        })
    }

    fn set_signed_links_required(&self, organisation: &str, required: bool) -> StoreResult<()> {
        self.write_rows(|tx| {
            if required {
                tx.execute(
                    "INSERT INTO signed_links_required (organisation) VALUES ($1)
                     ON CONFLICT DO NOTHING",
                    &[&organisation],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM signed_links_required WHERE organisation = $1",
                    &[&organisation],
                )?;
            }
            Ok(())
        })
    }

    fn signed_links_required(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            c.query(
                "SELECT organisation FROM signed_links_required ORDER BY organisation",
                &[],
            )?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
        })
    }
}
