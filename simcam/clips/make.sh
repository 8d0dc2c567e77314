#!/bin/sh
# Regenerates the simulated-camera clips (Annex-B elementary streams).
# 1280x720, 25 fps, 10 s, closed GOP of exactly 25 frames, no B-frames,
# parameter sets repeated before every IDR, ~800 kbit/s, frame counter burnt in.
# Needs ffmpeg with libx264, libx265 and drawtext (Debian: apt-get install ffmpeg fonts-dejavu-core).
set -eu
cd "$(dirname "$0")"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
SRC="testsrc2=size=1280x720:rate=25:duration=10"
VF="drawtext=fontfile=$FONT:text='mimamori simcam  frame %{frame_num}':x=40:y=40:fontsize=48:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=8"

ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$SRC" -vf "$VF" \
  -an -pix_fmt yuv420p -c:v libx264 -preset veryfast -profile:v high \
  -b:v 800k -maxrate 800k -bufsize 1600k \
  -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -threads 1 \
  -x264-params repeat-headers=1:scenecut=0:open-gop=0 \
  -bsf:v filter_units=remove_types=6 \
  -f h264 clip.h264

ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$SRC" -vf "$VF" \
  -an -pix_fmt yuv420p -c:v libx265 -preset veryfast \
  -b:v 800k -maxrate 800k -bufsize 1600k -g 25 -bf 0 \
  -x265-params keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=0:repeat-headers=1:info=0:pools=1:frame-threads=1:log-level=error \
  -f hevc clip.h265
