# Chorus node image. There is no build stage: nothing can be pulled here, so the image
# starts FROM scratch and takes a static binary built on the host. Build it with
#
#   scripts/docker-build.sh [TAG]        # default tag chorus:latest
#
# which builds the binary (CGO_ENABLED=0) into a fresh context directory with this file
# and runs `docker build` on it. See README.md, "Run a cluster with Docker", and
# deploy/docker-compose.yml.
FROM scratch

# The context holds chorus (the static binary) and data/ (an empty directory, so that
# /data exists owned by the unprivileged user and a fresh named volume inherits that).
COPY chorus /chorus
COPY --chown=65532:65532 data /data

# Defaults for a container: serve clients on every interface of the container, keep
# data in the volume, log JSON lines. Gossip and RPC addresses are advertised to the
# other nodes, which dial them, so they cannot default to 0.0.0.0: for a cluster set
# them per node to the container's name on its network, e.g. CHORUS_GOSSIP_ADDR=n1:8380
# and CHORUS_RPC_ADDR=n1:9380, with CHORUS_NODE_ID and CHORUS_JOIN (see
# deploy/docker-compose.yml). Left unset they stay on 127.0.0.1: a one-node cluster.
ENV CHORUS_DATA_DIR=/data \
    CHORUS_RESP_ADDR=0.0.0.0:6380 \
    CHORUS_HTTP_ADDR=0.0.0.0:7380 \
    CHORUS_LOG_FORMAT=json

VOLUME /data
# RESP, HTTP (API, /metrics, the console at /ui/), gossip (TCP and UDP), node-to-node RPC.
EXPOSE 6380 7380 8380 8380/udp 9380
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/chorus", "server"]
