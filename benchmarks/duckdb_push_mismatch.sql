-- The bundled push-mismatch rule written by hand for DuckDB over raw Okta System Log NDJSON: the
-- baseline of benchmarks/engine_vs_duckdb.py. A typed read_json projection (only the fields the rule
-- reads), the same case-insensitive selection, 2 s collapse, hourly windows, metrics and condition.
-- {path} is replaced by the file to read.
WITH events AS (
    SELECT * FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true,
        maximum_object_size = 16777216,
        columns = {
            published: 'VARCHAR', eventType: 'VARCHAR', uuid: 'VARCHAR',
            authenticationContext: 'STRUCT(externalSessionId VARCHAR)',
            debugContext: 'STRUCT(debugData STRUCT(factor VARCHAR, behaviors VARCHAR))',
            outcome: 'STRUCT(result VARCHAR)',
            actor: 'STRUCT(alternateId VARCHAR)',
            client: 'STRUCT(device VARCHAR, ipAddress VARCHAR, userAgent STRUCT(rawUserAgent VARCHAR))'
        })
),
matched AS (
    SELECT
        epoch_us(CAST(published AS TIMESTAMPTZ)) AS t,
        lower(eventType) = 'system.push.send_factor_verify_push' AS r0,
        coalesce(lower(eventType) = 'user.authentication.auth_via_mfa'
                 AND lower(debugContext.debugData.factor) = 'okta_verify_push', false) AS r1,
        coalesce(authenticationContext.externalSessionId, 'NULL') AS session,
        coalesce(eventType, 'NULL') AS event_type,
        coalesce(debugContext.debugData.factor, 'NULL') AS factor,
        coalesce(outcome.result, 'NULL') AS result,
        coalesce(actor.alternateId, 'NULL') AS alternate_id,
        coalesce(client.device, 'NULL') AS device,
        coalesce(client.ipAddress, 'NULL') AS ip,
        coalesce(client.userAgent.rawUserAgent, 'NULL') AS user_agent,
        coalesce(debugContext.debugData.behaviors, 'NULL') AS behaviors,
        uuid
    FROM events
    WHERE lower(eventType) = 'system.push.send_factor_verify_push'
       OR (lower(eventType) = 'user.authentication.auth_via_mfa'
           AND lower(debugContext.debugData.factor) = 'okta_verify_push')
),
rows AS (
    SELECT r0, r1, session, event_type, factor, result, alternate_id, device, ip, user_agent, behaviors,
           t // 3600000000 AS window_number, min(t) AS t, list(uuid) AS ids
    FROM matched
    GROUP BY r0, r1, session, event_type, factor, result, alternate_id, device, ip, user_agent, behaviors,
             t // 3600000000, t // 2000000
),
groups AS (
    SELECT window_number, session, min(t) AS first_seen,
        count(DISTINCT ip) AS dc_ip,
        count(*) FILTER (WHERE r0 AND lower(result) = 'success') AS total_pushes,
        count(*) FILTER (WHERE r1 AND lower(result) = 'success') AS total_successes,
        count(*) FILTER (WHERE r1 AND lower(result) = 'failure') AS total_rejected,
        count(*) FILTER (WHERE r0 AND contains(lower(behaviors), 'new device=positive')) AS suspect_device_from_source,
        count(*) FILTER (WHERE r0 AND contains(lower(behaviors), 'new ip=positive')) AS suspect_ip_from_source,
        list(DISTINCT alternate_id ORDER BY alternate_id) AS users,
        flatten(list(ids)) AS event_ids
    FROM rows
    GROUP BY window_number, session
)
SELECT *,
    round(CAST(CAST(total_successes / nullif(total_pushes, 0) AS VARCHAR) AS DECIMAL(38, 18)), 2) AS ratio
FROM groups
WHERE ((ratio < 0.5 AND total_pushes > 1) OR total_rejected > 0)
  AND dc_ip > 1 AND suspect_device_from_source > 0 AND suspect_ip_from_source > 0
