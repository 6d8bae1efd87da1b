"""The copyable examples the Server page shows: curl and the official `openai` Python package."""

from __future__ import annotations

import json


def curl_example(base_url: str, model: str, api_key: str | None) -> str:
    auth = f' \\\n  -H "Authorization: Bearer {api_key}"' if api_key else ""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    return (f"curl {base_url}/chat/completions{auth} \\\n"
            f'  -H "Content-Type: application/json" \\\n'
            f"  -d '{body}'")


def python_example(base_url: str, model: str, api_key: str | None) -> str:
    return ("from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{base_url}", api_key="{api_key or "none"}")\n'
            "stream = client.chat.completions.create(\n"
            f'    model="{model}",\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            "    stream=True,\n"
            ")\n"
            "for chunk in stream:\n"
            '    print(chunk.choices[0].delta.content or "", end="", flush=True)\n')
