"""Fuzz every operation of the OpenAPI schema with schemathesis: whatever the input, never a 5xx.

schemathesis' own pytest plugin does not run under pytest 9 here, so its case strategies are driven with
hypothesis directly, one operation at a time.
"""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.server.api_helpers import create_test_app, tiny_base


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    app, _ = create_test_app(tiny_base(), tmp_path_factory.mktemp("fuzz"), max_waiting=8)
    with TestClient(app):  # runs the lifespan: the engine is attached and stepping
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_input_makes_any_operation_fail(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def no_server_error(case):
            response = case.call()
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
            content_type = response.headers.get("content-type", [""])  # schemathesis: header -> list of values
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            if response.status_code >= 400 and content_type.startswith("application/json"):
                assert response.json()["error"]["message"], where  # every error says what was wrong

        no_server_error()
