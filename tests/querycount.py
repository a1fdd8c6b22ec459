from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_for(client, url: str, page_size: int) -> int:
    """Queries to serve one full page; a short page would make the comparison prove nothing."""
    joiner = "&" if "?" in url else "?"
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{url}{joiner}page_size={page_size}")
    assert response.status_code == 200, response.content[:300]
    assert len(response.json()["results"]) == page_size, f"{url}: fewer than {page_size} rows to list"
    return len(ctx.captured_queries)


def assert_page_size_does_not_change_query_count(client, url: str, small: int = 2, large: int = 20) -> None:
    """A list's query count is the same for a small and a large page: no query per row (N+1)."""
    queries_for(client, url, 1)  # warm the user's permission cache first
    small_count, large_count = queries_for(client, url, small), queries_for(client, url, large)
    assert small_count == large_count, (
        f"{url}: {small_count} queries for {small} rows, {large_count} for {large}"
    )
