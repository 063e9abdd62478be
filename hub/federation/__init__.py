"""Federation between hubs: signed server-to-server requests, instance keys, partner policy.

Modules: `names` and `signing` (pure parsing and canonical JSON), `keys` (our key file and
published document), `keyring` (partners' keys), `nonces` (replay), `policy` (who is a
partner), `client` (signed outbound requests), `server` (inbound verification and routes),
`service` (the `Federation` object an app holds under `hub.web.keys.FEDERATION`).
"""
