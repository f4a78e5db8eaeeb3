@echo off
rem kiln launcher: runs the kiln sources beside this folder with Deno.
deno run -A "%~dp0..\build.ts" %*
