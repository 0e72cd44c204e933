-- Each refresh token remembers the token it replaced. When one of several
-- tokens minted from the same parent (the grace-window replay makes such
-- siblings) is exchanged, the others are retired, so a replay can never fork
-- a session into two live chains.
ALTER TABLE refresh_tokens
    ADD COLUMN parent_hash BINARY(32) NULL AFTER session_id,
    ADD INDEX refresh_tokens_parent (parent_hash);
