"""A real RTSP server for tests/runtime/test_watch.py: GStreamer's gst-rtsp-server (Debian: gir1.2-gst-rtsp-server-1.0,
python3-gi, gstreamer1.0-plugins-good) serving an MJPG .avi's frames as RTP/JPEG, in real time, to each client.

Usage (with a Python that has those bindings, e.g. Debian's /usr/bin/python3):
  python3 tests/runtime/rtsp_server.py VIDEO.avi PORT      # prints rtsp://127.0.0.1:PORT/meter once it listens

The frames are decoded and encoded again (jpegdec ! jpegenc): RTP/JPEG (RFC 2435) cannot carry OpenCV's MJPG frames
as they are (a client decodes them to garbage).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    video, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( filesrc location={video} ! avidemux ! jpegdec ! videoconvert ! jpegenc quality=90 "
                       "! rtpjpegpay name=pay0 pt=26 )")
    server.get_mount_points().add_factory("/meter", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on port {port}")
    print(f"rtsp://127.0.0.1:{port}/meter", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
