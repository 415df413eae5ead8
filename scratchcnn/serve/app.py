"""create_app(network): the FastAPI app behind `scratchcnn serve`, the page and its JSON API.

    GET  /                 the page (static/index.html, app.js, style.css; no CDN, works offline)
    GET  /api/model        the layers (name, config, output shape), input_shape, class_names
    POST /api/predict      one sample -> {"class", "index", "probabilities"}
    POST /api/activations  one sample -> the prediction, the input as the network sees it, and the
                           feature maps of every convolution and pooling layer
    GET  /openapi.json     the API's OpenAPI description (/docs and /redoc are off: they load a CDN's JS)

A sample is an image file in the multipart form field `file`, or a JSON body
{"input": <nested list of the per-sample input shape>}. Every error is a JSON
{"error": "..."} with a 4xx status; bodies over the limit are refused with 413.
"""
import json
from importlib import resources

from .limits import MAX_BODY_BYTES, BodyLimit, BodyTooLarge
from .model import ServedModel
from .preprocess import InputError, array_to_sample, image_to_sample

STATIC_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
# The page loads nothing from elsewhere; the feature maps and the input come as data: URLs.
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'"
SAMPLE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["input"], "properties": {"input": {
        "type": "array", "description": "one sample: a nested list of the model's per-sample input_shape"}}}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": {
        "type": "string", "format": "binary", "description": "an image file (PNG, JPEG, GIF, BMP, WebP)"}}}}}}}
ERRORS = {status: {"description": text, "content": {"application/json": {"example": {"error": "..."}}}}
          for status, text in ((400, "malformed body"), (413, "body over the size limit"),
                               (415, "neither JSON nor a multipart form"), (422, "not a valid sample"))}


def _require_packages():
    try:
        import fastapi  # noqa: F401
        import PIL  # noqa: F401
        import python_multipart  # noqa: F401  (Starlette reads forms with it)
    except ImportError as error:
        raise ImportError(f'Serving needs FastAPI, python-multipart and Pillow ({error}): '
                          'pip install "scratchcnn[serve]"') from None


def create_app(network, input_shape=None, max_body_bytes=MAX_BODY_BYTES):
    """The FastAPI app serving `network`; input_shape defaults to network.metadata['input_shape']."""
    _require_packages()
    from fastapi import FastAPI

    served = ServedModel(network, input_shape)
    app = FastAPI(title="scratchcnn", version=_version(), docs_url=None, redoc_url=None,
                  description="Classify a sample with a scratchcnn network and see its feature maps.")
    app.state.model = served
    _add_page(app)
    _add_api(app, served)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def _add_page(app):
    from fastapi import HTTPException
    from fastapi.responses import Response

    folder = resources.files("scratchcnn.serve") / "static"
    files = {name: (folder / name).read_bytes() for name in STATIC_FILES}  # read once: no client path is opened
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    def page():
        return Response(files["index.html"], media_type="text/html", headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in files:
            raise HTTPException(404, f"No static file {name!r}.")
        return Response(files[name], media_type=STATIC_FILES[name], headers=headers)


def _add_api(app, served):
    from fastapi import Request
    from starlette.concurrency import run_in_threadpool

    @app.get("/api/model", summary="The model: layers, input shape, class names")
    def model():
        return served.describe()

    @app.post("/api/predict", summary="Classify one sample", openapi_extra=SAMPLE_BODY, responses=ERRORS)
    async def predict(request: Request):
        x = await read_sample(request, served.input_shape)
        return await run_in_threadpool(served.predict, x)

    @app.post("/api/activations", summary="Feature maps of every convolution and pooling layer",
              openapi_extra=SAMPLE_BODY, responses=ERRORS)
    async def activations(request: Request):
        x = await read_sample(request, served.input_shape)
        return await run_in_threadpool(served.activations, x)


async def read_sample(request, input_shape):
    """The request's sample as a float32 array of input_shape: JSON {"input": ...} or the form's image `file`."""
    from starlette.concurrency import run_in_threadpool

    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        body = await request.body()
        return await run_in_threadpool(_json_sample, body, input_shape)
    if media_type == "multipart/form-data":
        data = await _read_upload(request)
        return await run_in_threadpool(image_to_sample, data, input_shape)
    raise InputError(f"Received Content-Type {content_type[:80]!r}, expected application/json "
                     "(a body {\"input\": [...]}) or multipart/form-data (an image in the field 'file').", 415)


def _json_sample(body, input_shape):
    if not body.strip():
        raise InputError('The request body is empty, expected JSON {"input": [...]}.', 400)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than the parser goes
        raise InputError(f"The request body is not valid JSON: {error}", 400) from None
    if not isinstance(payload, dict) or "input" not in payload:
        raise InputError('Received JSON without an "input" member, expected {"input": [...]}.', 422)
    return array_to_sample(payload["input"], input_shape)


async def _read_upload(request):
    """The bytes of the form field `file`."""
    try:
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InputError("The form has no file field 'file', expected the image there.", 422)
            return await upload.read()
    except (BodyTooLarge, InputError):
        raise
    except Exception as error:  # a broken multipart body: Starlette's HTTPException(400) or the parser's error
        raise InputError(f"The multipart form could not be read: {getattr(error, 'detail', error)}", 400) from None


def _add_error_handlers(app):
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(InputError)
    async def input_error(request, error):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request, error):
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, error):
        problems = "; ".join(str(problem.get("msg", problem)) for problem in error.errors())
        return JSONResponse({"error": f"The request is not valid: {problems}"}, status_code=422)

    @app.exception_handler(Exception)
    async def server_error(request, error):  # a bug, not the client's input; still JSON
        return JSONResponse({"error": f"Internal error: {type(error).__name__}"}, status_code=500)


def _version():
    from .. import __version__

    return __version__
