#!/bin/sh
# Run once by the postgres image's entrypoint at initdb: base backups come from a sidecar on the compose network.
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
