/// The engine's tables and functions. Created by the first node that starts on a database (under an advisory lock, so
/// nodes starting together do not race), checked by every later one.
///
/// Shape (after Centrifugo's PostgreSQL stream broker, written for PostgreSQL 15):
/// - `switchboard_shards`: one lock row per shard of channels. A publish takes its shard's row `FOR UPDATE` and holds
///   it until commit, so publishers of one shard commit one after the other and the per-shard `id`s they take are
///   contiguous in commit order: a reader that asks for `id > cursor` never skips a row that commits later.
/// - `switchboard_channels`: a row per channel with its epoch and top offset, incremented in the publish transaction
///   (gapless per channel), and the retention the channel's namespace asked for (which trimming and
///   `switchboard_publish` use).
/// - `switchboard_publications`: every publication, keyed by (shard, id) for readers and (channel, offset) for
///   history. Bodies live only here: the NOTIFY that wakes readers is empty.
enum PostgresSchema {
    /// Bumped when the tables change; a database with a newer version is refused.
    static let version = 1
    /// The NOTIFY channel: one empty notification per commit that published.
    static let notifyChannel = "switchboard"
    /// Taken (transaction-scoped) while the schema is created or the database identity is checked.
    static let setupLockKey: Int64 = 0x7377_6974_6368_0001

    static let tables = """
        CREATE TABLE IF NOT EXISTS switchboard_meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE IF NOT EXISTS switchboard_shards (shard int PRIMARY KEY, top_id bigint NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS switchboard_channels (
            name text PRIMARY KEY,
            shard int NOT NULL,
            epoch text NOT NULL,
            top_offset bigint NOT NULL,
            capacity int NOT NULL,
            ttl_ns bigint,
            key_window_ns bigint NOT NULL,
            published_at bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS switchboard_publications (
            shard int NOT NULL,
            id bigint NOT NULL,
            channel text NOT NULL,
            "offset" bigint NOT NULL,
            epoch text NOT NULL,
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            data bytea NOT NULL,
            sender text,
            idempotency_key text,
            key text,
            flags int NOT NULL,
            PRIMARY KEY (shard, id)
        );
        CREATE UNIQUE INDEX IF NOT EXISTS switchboard_publications_by_channel ON switchboard_publications (channel, "offset");
        CREATE INDEX IF NOT EXISTS switchboard_publications_by_expiry ON switchboard_publications (expires_at);
        CREATE TABLE IF NOT EXISTS switchboard_idempotency_keys (
            channel text NOT NULL,
            key text NOT NULL,
            epoch text NOT NULL,
            "offset" bigint NOT NULL,
            expires_at bigint NOT NULL,
            PRIMARY KEY (channel, key)
        );
        CREATE INDEX IF NOT EXISTS switchboard_idempotency_keys_by_expiry ON switchboard_idempotency_keys (expires_at);
        CREATE TABLE IF NOT EXISTS switchboard_receipts (
            channel text NOT NULL,
            "offset" bigint NOT NULL,
            expires_at bigint NOT NULL,
            record bytea NOT NULL,
            PRIMARY KEY (channel, "offset")
        );
        CREATE INDEX IF NOT EXISTS switchboard_receipts_by_expiry ON switchboard_receipts (expires_at);
        """

    /// The shard of a channel, computed in the database so `switchboard_publish` and every node agree.
    static let shardFunction = """
        CREATE OR REPLACE FUNCTION switchboard_shard_of(p_channel text) RETURNS int
        LANGUAGE sql STABLE AS $$
            SELECT abs(hashtext(p_channel) % (SELECT value::int FROM switchboard_meta WHERE key = 'shards'))
        $$;
        """

    /// One publication, with everything the engine knows: the shard lock, the idempotency check, the channel's next
    /// offset, the row, the receipt record and the key, and the wake-up NOTIFY (sent at commit, empty).
    static let publishRowFunction = """
        CREATE OR REPLACE FUNCTION switchboard_publish_row(
            p_channel text, p_data bytea, p_sender text, p_idempotency_key text, p_key text, p_flags int,
            p_capacity int, p_ttl_ns bigint, p_key_window_ns bigint, p_now bigint, p_receipt bytea,
            OUT o_epoch text, OUT o_offset bigint, OUT o_duplicate boolean, OUT o_shard int, OUT o_id bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            v_top bigint;
            v_expires bigint;
            v_never constant bigint := 9223372036854775807;
        BEGIN
            o_shard := switchboard_shard_of(p_channel);
            -- Held until commit: the shard's publishers commit one at a time, so their ids are contiguous.
            SELECT s.top_id INTO v_top FROM switchboard_shards s WHERE s.shard = o_shard FOR UPDATE;
            IF p_idempotency_key IS NOT NULL AND p_key_window_ns > 0 THEN
                SELECT k.epoch, k."offset" INTO o_epoch, o_offset FROM switchboard_idempotency_keys k
                    WHERE k.channel = p_channel AND k.key = p_idempotency_key AND k.expires_at > p_now;
                IF FOUND THEN
                    o_duplicate := true;
                    RETURN;
                END IF;
            END IF;
            INSERT INTO switchboard_channels AS c (name, shard, epoch, top_offset, capacity, ttl_ns, key_window_ns, published_at)
                VALUES (p_channel, o_shard, (SELECT m.value FROM switchboard_meta m WHERE m.key = 'generation_epoch'), 1,
                        p_capacity, p_ttl_ns, p_key_window_ns, p_now)
                ON CONFLICT (name) DO UPDATE SET top_offset = c.top_offset + 1, capacity = excluded.capacity,
                    ttl_ns = excluded.ttl_ns, key_window_ns = excluded.key_window_ns, published_at = excluded.published_at
                RETURNING c.epoch, c.top_offset INTO o_epoch, o_offset;
            o_id := v_top + 1;
            UPDATE switchboard_shards s SET top_id = o_id WHERE s.shard = o_shard;
            v_expires := CASE WHEN p_ttl_ns IS NULL OR p_ttl_ns > v_never - p_now THEN v_never ELSE p_now + p_ttl_ns END;
            INSERT INTO switchboard_publications
                (shard, id, channel, "offset", epoch, created_at, expires_at, data, sender, idempotency_key, key, flags)
                VALUES (o_shard, o_id, p_channel, o_offset, o_epoch, p_now, v_expires, p_data, p_sender, p_idempotency_key, p_key, p_flags);
            IF p_receipt IS NOT NULL THEN
                INSERT INTO switchboard_receipts AS r (channel, "offset", expires_at, record)
                    VALUES (p_channel, o_offset, v_expires, p_receipt)
                    ON CONFLICT (channel, "offset") DO UPDATE SET expires_at = excluded.expires_at, record = excluded.record;
            END IF;
            IF p_idempotency_key IS NOT NULL AND p_key_window_ns > 0 THEN
                INSERT INTO switchboard_idempotency_keys AS k (channel, key, epoch, "offset", expires_at)
                    VALUES (p_channel, p_idempotency_key, o_epoch, o_offset,
                            CASE WHEN p_key_window_ns > v_never - p_now THEN v_never ELSE p_now + p_key_window_ns END)
                    ON CONFLICT (channel, key) DO UPDATE SET epoch = excluded.epoch, "offset" = excluded."offset",
                        expires_at = excluded.expires_at;
            END IF;
            PERFORM pg_notify('\(notifyChannel)', '');
            o_duplicate := false;
        END
        $$;
        """

    /// Publishing from the application's own transaction: rolled back, nothing is published; committed, every node
    /// delivers it. The channel keeps the retention its namespace gave it (or the default namespace's, for a channel no
    /// node published to yet). Holds the channel's shard lock until the transaction ends.
    static let publishFunction = """
        CREATE OR REPLACE FUNCTION switchboard_publish(p_channel text, p_data jsonb, p_idempotency_key text DEFAULT NULL)
        RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            v_channel switchboard_channels%ROWTYPE;
            v_result record;
        BEGIN
            IF p_channel IS NULL OR p_channel = '' OR p_data IS NULL THEN
                RAISE EXCEPTION 'switchboard_publish: channel and data are required' USING ERRCODE = '22004';
            END IF;
            -- ChannelName's grammar (docs/protocol.md): a name every node would refuse to deliver is refused here,
            -- in the caller's transaction, instead of taking an offset that no subscriber can ever receive.
            IF octet_length(p_channel) > 255
                OR p_channel !~ '^([a-z0-9][a-z0-9_-]{0,31}:[A-Za-z0-9_.:@=-]+|[A-Za-z0-9_.@=-]+)$' THEN
                RAISE EXCEPTION 'switchboard_publish: invalid channel name %', quote_literal(left(p_channel, 64))
                    USING ERRCODE = '22023',
                    HINT = 'at most 255 bytes: an optional namespace [a-z0-9][a-z0-9_-]{0,31} and '':'', then A-Z a-z 0-9 _ - . : @ =';
            END IF;
            SELECT * INTO v_channel FROM switchboard_channels c WHERE c.name = p_channel;
            IF NOT FOUND THEN
                v_channel.capacity := (SELECT m.value::int FROM switchboard_meta m WHERE m.key = 'default_capacity');
                v_channel.ttl_ns := (SELECT nullif(m.value, '')::bigint FROM switchboard_meta m WHERE m.key = 'default_ttl_ns');
                v_channel.key_window_ns := (SELECT m.value::bigint FROM switchboard_meta m WHERE m.key = 'default_key_window_ns');
            END IF;
            SELECT * INTO v_result FROM switchboard_publish_row(
                p_channel, convert_to(p_data::text, 'UTF8'), NULL, p_idempotency_key, NULL, 0,
                v_channel.capacity, v_channel.ttl_ns, v_channel.key_window_ns,
                (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint, NULL);
            RETURN v_result.o_offset;
        END
        $$;
        """
}
