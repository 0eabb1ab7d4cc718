"""The FastMCP peer of the benchmark ladder: an MCP server from PyPI doing a fraction of
Rampart's work — an HS256 JWT check and one asyncpg read by primary key, with no limits, budget,
conversation or audit. Stateless Streamable HTTP with JSON responses, like `rampart serve`.

Environment: PEER_DATABASE_URL, PEER_SECRET, PEER_ISSUER, PEER_AUDIENCE, PEER_PORT.
"""

import json
import os
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token

pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_server):
    global pool
    pool = await asyncpg.create_pool(os.environ["PEER_DATABASE_URL"], min_size=4, max_size=16)
    try:
        yield {}
    finally:
        await pool.close()


mcp = FastMCP(
    "fastmcp-peer",
    lifespan=lifespan,
    auth=JWTVerifier(
        public_key=os.environ["PEER_SECRET"],
        algorithm="HS256",
        issuer=os.environ["PEER_ISSUER"],
        audience=os.environ["PEER_AUDIENCE"],
    ),
)


@mcp.tool
async def read_resource(uri: str) -> dict:
    """Reads one document of the caller's tenant by URI (tenant://T/collection/id)."""
    tenant = get_access_token().claims["tenant_id"]
    _, _, owner, collection, document = uri.split("/", 4)
    if owner != tenant:
        raise ValueError("resource not found")
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT body::text, version FROM rampart.documents WHERE tenant_id = $1 AND collection = $2 AND id = $3",
            tenant,
            collection,
            document,
        )
    if row is None:
        raise ValueError("resource not found")
    return {"uri": uri, "version": row["version"], "content": json.loads(row["body"])}


if __name__ == "__main__":
    app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PEER_PORT"]), log_level="warning", access_log=False)
