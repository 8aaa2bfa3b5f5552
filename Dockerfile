# syntax=docker/dockerfile:1
# callpulse: build the wheel (the same one CI tests), then install it alone in a slim image.

FROM python:3.11-slim-trixie AS build
# A C compiler, for mypyc to compile the core modules into the wheel, and cargo, for the
# structures built from Rust (hatch_build.py; Debian 13's is Rust 1.85, the crate needs
# 1.70); they stay in this stage: the final image gets the built wheel only, on the same
# Debian, so that the extensions find the C library they were linked against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev cargo \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY src ./src
COPY config ./config
COPY rust ./rust
# The commit built, for callpulse_build_info{revision} (docker build --build-arg REVISION=...).
ARG REVISION=unknown
RUN echo "$REVISION" > src/callpulse/REVISION
# The project's wheel, then wheels of everything it needs, so the final stage needs no network.
# The build falls back to pure Python when compiling fails; an image must not, so the step
# fails unless the wheel is the compiled one (tagged for this Python, not py3-none-any).
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
 && ls /dist/callpulse-*-cp311-cp311-*.whl \
 && python -m zipfile -l /dist/callpulse-*.whl | grep 'callpulse/core/_native\.' \
 && pip wheel --no-cache-dir --wheel-dir /dist /dist/callpulse-*.whl

FROM python:3.11-slim-trixie
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="callpulse" \
      org.opencontainers.image.description="Real-time health monitoring for 24/7 contact centers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 callpulse \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin callpulse
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir --no-index --find-links /tmp/dist callpulse \
 && rm -rf /tmp/dist /root/.cache
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9464
# Settings are mounted at /etc/callpulse (the Helm chart's ConfigMap); `docker run IMAGE run`
# with no arguments plays the embedded demo instead.
ENTRYPOINT ["callpulse"]
CMD ["run", "--config", "/etc/callpulse/callpulse.yaml"]
