"""Screenshot of the web page with the shipped model: docs/images/web.png.

Usage: python scripts/screenshot_web.py [--image examples/astronaut_composite.jpg] [--out docs/images/web.png]
Needs Debian's chromium (scripts/install.sh --with-browser) and the [web,dev] extras.
"""

import argparse
import socket
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from inharmony.web.app import create_app
from inharmony.web.browser import launch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="examples/astronaut_composite.jpg")
    parser.add_argument("--out", default="docs/images/web.png")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(device="cpu"), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#model option", state="attached")
            page.set_input_files("#file", args.image)
            page.wait_for_selector("body[data-state=done]", timeout=120_000)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(args.out)


if __name__ == "__main__":
    main()
