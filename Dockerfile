# diplo in a container image (docs/ci.md, "Container image"). durable-rules, the rule engine,
# is C code built from source: it is compiled in the build stage, and the image that runs diplo
# has no compiler. The Python version is one durable-rules builds on (3.11 or 3.12).
#
#   docker build -t diplo .
#   docker run --rm -v "$PWD/cases:/work" diplo assess ally-trims-exercises.yaml --exit-zero

# A fixed release of the base image, so that a rebuild gets the same Python and Debian; raise
# it deliberately (both stages must use the same one: the wheels are built for it).
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# diplo's wheel and a wheel of each dependency: durable-rules compiled here, the others as
# published
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# the wheels are mounted for the install only, so no layer of the image keeps them; with
# --no-index nothing can be built here, where there is no compiler
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels diplo \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin diplo
# an unprivileged user, by number so that a cluster's "run as non-root" check can verify it
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["diplo"]
CMD ["--help"]
