<?xml version="1.0" encoding="utf-8"?>
<!-- feeds: shows an RSS 2.0 or Atom 1.0 feed of this site as a page, for people who open
     one in a browser. Feed readers ignore it. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:template match="/rss">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="channel/title"/>
      <xsl:with-param name="description" select="channel/description"/>
      <xsl:with-param name="home" select="channel/link"/>
      <xsl:with-param name="self" select="channel/atom:link[@rel='self']/@href"/>
      <xsl:with-param name="language" select="channel/language"/>
      <xsl:with-param name="entries" select="channel/item"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="/atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="description" select="atom:subtitle"/>
      <xsl:with-param name="home" select="atom:link[@rel='alternate']/@href"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="language" select="@xml:lang"/>
      <xsl:with-param name="entries" select="atom:entry"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="description"/>
    <xsl:param name="home"/>
    <xsl:param name="self"/>
    <xsl:param name="language"/>
    <xsl:param name="entries"/>
    <html lang="{$language}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> · web feed</title>
        <style>
          body { font: 1.05rem/1.55 system-ui, sans-serif; max-width: 44rem; margin: 0 auto;
                 padding: 1.5rem 1rem 3rem; color: #1d1d1f; background: #fdfdfc; }
          .hint { background: #fff6d6; border: 1px solid #e8d48a; border-radius: .5rem;
                  padding: .8rem 1rem; margin: 0 0 1.5rem; }
          .hint code { display: block; margin-top: .4rem; padding: .3rem .5rem;
                       background: #fff; border-radius: .3rem; word-break: break-all; }
          h1 { font-size: 1.9rem; margin: 0 0 .3rem; }
          h1 a, h2 a { color: inherit; }
          .description { color: #555; margin: 0 0 1.5rem; }
          ol { list-style: none; padding: 0; margin: 0; }
          li { padding: 1rem 0; border-top: 1px solid #e4e4e4; }
          h2 { font-size: 1.3rem; margin: 0 0 .2rem; }
          .meta { color: #666; font-size: .9rem; margin: 0 0 .4rem; }
          .summary p { margin: .3rem 0; }
        </style>
      </head>
      <body>
        <p class="hint">
          <strong>This is a web feed.</strong>
          To follow this site, copy this address into your feed reader:
          <code><xsl:value-of select="$self"/></code>
          <a href="{$home}">Visit the site</a> to read it in the browser.
        </p>
        <h1><a href="{$home}"><xsl:value-of select="$title"/></a></h1>
        <xsl:if test="normalize-space($description)">
          <p class="description"><xsl:value-of select="$description"/></p>
        </xsl:if>
        <ol>
          <xsl:apply-templates select="$entries"/>
        </ol>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="meta">
        <xsl:value-of select="pubDate"/>
        <xsl:for-each select="dc:creator">
          <xsl:text> · </xsl:text><xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <!-- The summary is HTML that feeds sanitized. -->
      <div class="summary"><xsl:value-of select="description" disable-output-escaping="yes"/></div>
    </li>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <h2><a href="{atom:link[not(@rel) or @rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="meta">
        <xsl:value-of select="substring(atom:published, 1, 10)"/>
        <xsl:for-each select="atom:author/atom:name">
          <xsl:text> · </xsl:text><xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <div class="summary"><xsl:value-of select="atom:summary" disable-output-escaping="yes"/></div>
    </li>
  </xsl:template>
</xsl:stylesheet>
