# tickaccel: live pipeline and Ray worker image (CPU backend).
# Multi-stage: the build stage has the compiler toolchain pip may need; the
# runtime stage has only the virtual environment and runs as a non-root user.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Pinned runtime dependencies first, so this layer is cached across source edits.
RUN pip install \
        numpy==2.4.6 numba==0.68.1 pyarrow==26.0.1 dpkt==1.9.8 typer==0.29.2 rich==15.0.0 \
        pyzmq==27.3.0 hdrhistogram==0.10.8 prometheus-client==0.26.0 "ray[default]==2.60.0"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY host/ host/
COPY kernels/ kernels/
COPY sim/ sim/
COPY hw/ hw/
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache
RUN groupadd --gid 10001 tickaccel \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tickaccel
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /data
# MoldUDP64 in, ZeroMQ BBO out, Prometheus metrics.
EXPOSE 26400/udp 5556/tcp 9108/tcp
ENTRYPOINT ["tickaccel"]
CMD ["--help"]
