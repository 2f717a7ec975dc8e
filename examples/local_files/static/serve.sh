#!/bin/sh
echo served
