from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def assert_page_size_does_not_change_query_count(client, url: str, small: int = 2, large: int = 20) -> None:
    """A list's query count is the same for a small and a large page: no query per row (N+1)."""
    joiner = "&" if "?" in url else "?"
    queries_for(client, f"{url}{joiner}page_size=1")  # warm the user's permission cache first
    small_count = queries_for(client, f"{url}{joiner}page_size={small}")
    large_count = queries_for(client, f"{url}{joiner}page_size={large}")
    assert small_count == large_count, (
        f"{url}: {small_count} queries for {small} rows, {large_count} for {large}"
    )
