#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static void rep(const char*n,double*v,int k){qsort(v,k,sizeof(double),cmp);double s=0;for(int i=0;i<k;i++)s+=v[i];printf("%-28s mean %7.1f p50 %7.1f p99 %7.1f us\n",n,s/k,v[k/2],v[k*99/100]);}
int main(int c,char**a){int N=1500;char buf[8192];memset(buf,'x',sizeof buf);double*v=malloc(N*sizeof(double));char p[256],q[256];
 const char*d=a[1];int dfd=open(d,O_RDONLY|O_DIRECTORY);
 for(int i=0;i<N;i++){double t=now();snprintf(p,256,"%s/t%d.tmp",d,i);snprintf(q,256,"%s/a%d",d,i);int fd=open(p,O_CREAT|O_WRONLY|O_TRUNC,0644);write(fd,buf,4096);fsync(fd);close(fd);rename(p,q);fsync(dfd);v[i]=now()-t;} rep("A tmp+fsync+rename+dirfsync",v,N);
 for(int i=0;i<N;i++){double t=now();snprintf(q,256,"%s/b%d",d,i);int fd=open(q,O_CREAT|O_EXCL|O_WRONLY,0644);write(fd,buf,4096);fdatasync(fd);close(fd);fsync(dfd);v[i]=now()-t;} rep("B excl+fdatasync+dirfsync",v,N);
 for(int i=0;i<N;i++){double t=now();snprintf(q,256,"%s/c%d",d,i);int fd=open(q,O_CREAT|O_EXCL|O_WRONLY,0644);write(fd,buf,4096);fsync(fd);close(fd);v[i]=now()-t;} rep("C excl+fsync only",v,N);
 snprintf(q,256,"%s/wal",d);int fd=open(q,O_CREAT|O_RDWR,0644);for(int i=0;i<N*2;i++)write(fd,buf,8192);fsync(fd);
 for(int i=0;i<N;i++){double t=now();pwrite(fd,buf,4096,(off_t)i*4096);fdatasync(fd);v[i]=now()-t;} rep("D prealloc pwrite+fdatasync",v,N);
 int fd2=open(q,O_CREAT|O_RDWR|O_APPEND,0644);
 for(int i=0;i<N;i++){double t=now();write(fd2,buf,4096);fdatasync(fd2);v[i]=now()-t;} rep("E append+fdatasync",v,N);
 return 0;}
